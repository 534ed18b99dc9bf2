//! Reading an strace log (`strace -f -y -xx -o LOG`) into whole syscalls in their real order.
//!
//! Every line starts with the pid. A call another process interrupted is split over two lines
//! (`<unfinished ...>`, then `<... NAME resumed>`); it is joined and takes the place of its
//! second half, when it returned. `-xx` prints every string byte as `\xNN`, so strings parse
//! exactly; `-y` follows each descriptor with its path in `<...>`, escaped the same way.

use std::collections::BTreeMap;

/// One entry of the log, in the order strace printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A syscall that returned (or that never will: `exit_group`).
    Call(Syscall),
    /// A process (or thread) is gone: `+++ exited with N +++` or `+++ killed by SIG +++`.
    Gone { pid: u32 },
    /// A line that looks like a syscall and does not parse: reported, never guessed at.
    Unreadable { line: usize, text: String, why: String },
    /// `pid` is inside clone/fork/vfork/clone3 (`head`: the arguments printed so far): a child
    /// may show up before the call returns.
    Spawning { pid: u32, head: String },
}

/// A whole syscall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub pid: u32,
    /// 1-based line of the log where it returned.
    pub line: usize,
    pub name: String,
    /// The arguments as strace printed them, split at top-level commas.
    pub args: Vec<String>,
    pub ret: Ret,
    /// The whole call as printed (`name(args) = ret`), for reports.
    pub text: String,
    /// The user stack strace printed with `-k`, innermost first: `/usr/bin/git(xopen+0x2d)`, or
    /// `/usr/bin/git(+0x1ab70)` (the module offset) for code without a symbol; empty without `-k`.
    pub stack: Vec<String>,
}

/// What a syscall returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// A value; for a descriptor, the path strace resolved it to.
    Value { value: i64, path: Option<Vec<u8>> },
    /// `-1 ENAME (...)`.
    Error(String),
    /// `?`: the call did not return (`exit_group`, or a process killed inside it).
    Unknown,
}

impl Syscall {
    pub fn ok(&self) -> Option<i64> {
        match self.ret {
            Ret::Value { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn arg(&self, i: usize) -> Result<&str, String> {
        self.args.get(i).map(String::as_str).ok_or_else(|| format!("{}: argument {} missing", self.name, i + 1))
    }
}

/// Parses a whole log. Lines that are not syscalls or exits (signals, strace's own notes) are
/// skipped; a line that looks like a syscall and does not parse is an [`Entry::Unreadable`].
pub fn parse(log: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut unfinished: BTreeMap<u32, String> = BTreeMap::new();
    // Which call a `-k` stack line belongs to: the entry just pushed, if it is a call.
    let mut stack_of: Option<usize> = None;
    for (i, raw) in log.lines().enumerate() {
        let line = i + 1;
        if let Some(frame) = raw.strip_prefix(" > ") {
            if let Some(Entry::Call(call)) = stack_of.and_then(|at| entries.get_mut(at)) {
                // `path(symbol+0x..) [0x..]`: the symbol's offset names the code; without a
                // symbol (`path() [0x1ab70]`), the module offset does.
                let frame = match frame.rsplit_once(" [") {
                    Some((named, _)) if !named.ends_with("()") => named.to_string(),
                    Some((unnamed, offset)) => {
                        format!("{}+{})", unnamed.trim_end_matches(')'), offset.trim_end_matches(']'))
                    }
                    None => frame.to_string(),
                };
                call.stack.push(frame);
            }
            continue;
        }
        stack_of = None;
        let Some((pid, rest)) = split_pid(raw) else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("+++") {
            if rest.contains("exited with") || rest.contains("killed by") {
                entries.push(Entry::Gone { pid });
            }
            continue;
        }
        if rest.starts_with("---") {
            continue;
        }
        let unreadable = |why: String| Entry::Unreadable { line, text: raw.to_string(), why };
        let whole = if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            let head = head.trim_end().to_string();
            if ["clone(", "clone3(", "fork(", "vfork("].iter().any(|call| head.starts_with(call)) {
                entries.push(Entry::Spawning { pid, head: head.clone() });
            }
            unfinished.insert(pid, head);
            continue;
        } else if let Some(after) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = after.split_once(" resumed>") else {
                entries.push(unreadable("an unreadable resumption".to_string()));
                continue;
            };
            let Some(head) = unfinished.remove(&pid) else {
                entries.push(unreadable(format!("{name} resumed but never started")));
                continue;
            };
            join_halves(&head, tail)
        } else {
            rest.to_string()
        };
        entries.push(parse_call(pid, line, &whole).map_or_else(unreadable, Entry::Call));
        stack_of = Some(entries.len() - 1);
    }
    for (pid, head) in unfinished {
        let line = log.lines().count();
        entries.push(Entry::Unreadable { line, text: format!("{pid} {head}"), why: "never returned".to_string() });
    }
    entries
}

/// The parts of an unfinished call: `head` ends where it was cut, `tail` goes on from there.
fn join_halves(head: &str, tail: &str) -> String {
    let tail = tail.trim_start();
    if head.ends_with('(') || tail.starts_with(')') || tail.starts_with(',') {
        format!("{head}{tail}")
    } else {
        format!("{head} {tail}")
    }
}

fn split_pid(raw: &str) -> Option<(u32, &str)> {
    let raw = raw.strip_prefix("[pid").map(str::trim_start).unwrap_or(raw);
    let digits = raw.find(|c: char| !c.is_ascii_digit())?;
    let pid = raw[..digits].parse().ok()?;
    let rest = raw[digits..].trim_start_matches(']');
    Some((pid, rest))
}

fn parse_call(pid: u32, line: usize, text: &str) -> Result<Syscall, String> {
    let open = text.find('(').ok_or("no '('")?;
    let name = text[..open].trim().to_string();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("not a syscall name: {name:?}"));
    }
    let close = matching_paren(text, open).ok_or("unbalanced parentheses")?;
    let args = split_args(&text[open + 1..close]);
    let after = text[close + 1..].trim();
    let ret_text = after.strip_prefix('=').ok_or("no return value")?.trim();
    let ret = parse_ret(ret_text)?;
    Ok(Syscall { pid, line, name, args, ret, text: text.to_string(), stack: Vec::new() })
}

/// Index of the `)` closing the `(` at `open`, outside strings and `<...>` paths.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut scan = Scanner::default();
    for (i, c) in text.char_indices().skip_while(|(i, _)| *i < open) {
        if scan.quoted(c) {
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return (c == ')').then_some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at commas outside strings, brackets and `<...>` paths.
fn split_args(inner: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut scan = Scanner::default();
    for (i, c) in inner.char_indices() {
        if scan.quoted(c) {
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(inner[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim();
    if !last.is_empty() || !args.is_empty() {
        args.push(last.to_string());
    }
    args
}

/// Tracks whether a character is inside a `"..."` string or a `<...>` descriptor path. With
/// `-xx` neither holds a raw quote or `>`, only `\xNN` escapes.
#[derive(Default)]
struct Scanner {
    in_string: bool,
    in_path: bool,
}

impl Scanner {
    /// Feeds `c`; true when it belongs to a string or a path (delimiters included).
    fn quoted(&mut self, c: char) -> bool {
        if self.in_string {
            self.in_string = c != '"';
            return true;
        }
        if self.in_path {
            self.in_path = c != '>';
            return true;
        }
        match c {
            '"' => self.in_string = true,
            '<' => self.in_path = true,
            _ => return false,
        }
        true
    }
}

fn parse_ret(text: &str) -> Result<Ret, String> {
    if text.starts_with('?') {
        return Ok(Ret::Unknown);
    }
    let (number, rest) = text.split_once(' ').unwrap_or((text, ""));
    let (number, path) = match number.split_once('<') {
        Some((n, p)) => (n, Some(p)),
        None => (number, None),
    };
    let value = int(number).ok_or_else(|| format!("unreadable return value {text:?}"))?;
    if value < 0 {
        let errno = rest.split_whitespace().next().unwrap_or("EUNKNOWN");
        return Ok(Ret::Error(errno.to_string()));
    }
    let path = path.map(annotation).transpose()?;
    Ok(Ret::Value { value, path })
}

/// A decimal, hex (`0x..`) or octal (`0..`) integer, possibly negative.
pub fn int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// The bytes of `\xNN` escapes (what `-xx` prints).
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4);
    let mut rest = text;
    while !rest.is_empty() {
        let hex = rest.strip_prefix("\\x").ok_or_else(|| format!("not a \\xNN escape: {rest:.20}"))?;
        let byte = hex.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("bad \\xNN escape")?;
        out.push(byte);
        rest = &hex[2..];
    }
    Ok(out)
}

/// A string argument (`"\x.."`). A string strace cut short (`"..."...`) is an error: its bytes
/// are not all known.
pub fn string(arg: &str) -> Result<Vec<u8>, String> {
    let inner = arg.strip_prefix('"').ok_or_else(|| format!("not a string: {arg:.40}"))?;
    if inner.ends_with("\"...") {
        return Err("a string cut short by strace (raise -s)".to_string());
    }
    let inner = inner.strip_suffix('"').ok_or_else(|| format!("unterminated string: {arg:.40}"))?;
    unescape(inner)
}

/// A descriptor argument: its number (`AT_FDCWD` is -100) and the path `-y` resolved it to.
pub fn fd(arg: &str) -> Result<(i64, Option<Vec<u8>>), String> {
    let (number, path) = match arg.split_once('<') {
        Some((n, p)) => (n, Some(annotation(p)?)),
        None => (arg, None),
    };
    let number =
        if number == "AT_FDCWD" { -100 } else { int(number).ok_or_else(|| format!("not a descriptor: {arg:.40}"))? };
    Ok((number, path))
}

/// The path of a `-y` annotation (after its `<`): `\x..>`, or `\x..>(deleted)` for a file
/// with no name left, whose path then ends with ` (deleted)` as /proc shows it.
fn annotation(text: &str) -> Result<Vec<u8>, String> {
    let (inner, suffix) = text.split_once('>').ok_or("unterminated descriptor path")?;
    let mut path = unescape(inner)?;
    if suffix.starts_with("(deleted)") {
        path.extend_from_slice(b" (deleted)");
    }
    Ok(path)
}

/// The names of a flags argument (`O_WRONLY|O_CREAT`); a bare number yields no names.
pub fn flags(arg: &str) -> Vec<&str> {
    arg.split('|').map(str::trim).filter(|f| !f.is_empty()).collect()
}

/// The bytes of an iovec array (`[{iov_base="..", iov_len=N}, ...]`), in order.
pub fn iovec(arg: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(at) = rest.find("iov_base=") {
        let from = &rest[at + "iov_base=".len()..];
        let end = from.find(", iov_len=").ok_or("unreadable iovec")?;
        out.extend(string(&from[..end])?);
        rest = &from[end..];
    }
    Ok(out)
}

/// A field of a struct argument (`{flags=O_RDONLY, mode=0, resolve=0}`).
pub fn field<'a>(arg: &'a str, name: &str) -> Option<&'a str> {
    let inner = arg.strip_prefix('{')?.strip_suffix('}')?;
    split_args(inner).into_iter().find_map(|part| {
        let value = part.strip_prefix(name)?.strip_prefix('=')?;
        let start = inner.find(value)?;
        Some(&inner[start..start + value.len()])
    })
}

/// The call as a person reads it: strings decoded (cut at 60 bytes), descriptor paths decoded.
pub fn readable(text: &str) -> String {
    // With -xx, spaces outside strings and paths are strace's own padding.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(text.len() / 3);
    let mut rest = text.as_str();
    while let Some(start) = rest.find(['"', '<']) {
        out.push_str(&rest[..start]);
        let close = if rest.as_bytes()[start] == b'"' { '"' } else { '>' };
        let body = &rest[start + 1..];
        let Some(end) = body.find(close) else {
            out.push_str(&rest[start..]);
            return out;
        };
        match unescape(&body[..end]) {
            Ok(bytes) if close == '"' => out.push_str(&format!("{:?}", shorten(&bytes))),
            Ok(bytes) => out.push_str(&format!("<{}>", String::from_utf8_lossy(&bytes))),
            Err(_) => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

fn shorten(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]).into_owned();
    if bytes.len() > MAX {
        format!("{shown}... ({} B)", bytes.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"100 openat(AT_FDCWD<\x2f\x64>, "\x72\x2e\x74\x6d\x70", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 3<\x2f\x64\x2f\x72\x2e\x74\x6d\x70>
100 writev(3<\x2f\x64\x2f\x72\x2e\x74\x6d\x70>, [{iov_base="\x61\x62", iov_len=2}, {iov_base="\x2c\x29", iov_len=2}], 2) = 4
100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>
101 unlink("\x78") = -1 ENOENT (No such file or directory)
100 <... clone resumed>, child_tidptr=0x7f) = 101
101 +++ exited with 0 +++
100 --- SIGCHLD {si_signo=SIGCHLD} ---
100 exit_group(0)                     = ?
"#;

    #[test]
    fn a_log_parses_into_whole_calls_in_the_order_they_returned() {
        let entries = parse(LOG);
        let calls: Vec<&Syscall> =
            entries.iter().filter_map(|e| if let Entry::Call(c) = e { Some(c) } else { None }).collect();
        let names: Vec<(&str, u32)> = calls.iter().map(|c| (c.name.as_str(), c.pid)).collect();
        assert_eq!(names, [("openat", 100), ("writev", 100), ("unlink", 101), ("clone", 100), ("exit_group", 100)]);
        assert_eq!(calls[0].ret, Ret::Value { value: 3, path: Some(b"/d/r.tmp".to_vec()) });
        assert_eq!(fd(calls[0].arg(0).unwrap()).unwrap(), (-100, Some(b"/d".to_vec())));
        assert_eq!(string(calls[0].arg(1).unwrap()).unwrap(), b"r.tmp");
        assert_eq!(flags(calls[0].arg(2).unwrap()), ["O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"]);
        assert_eq!(iovec(calls[1].arg(1).unwrap()).unwrap(), b"ab,)");
        assert_eq!(calls[2].ret, Ret::Error("ENOENT".to_string()));
        assert_eq!(calls[3].args[1], "flags=CLONE_CHILD_CLEARTID|SIGCHLD");
        assert_eq!(calls[3].ok(), Some(101));
        assert_eq!(calls[3].line, 5);
        assert_eq!(calls[4].ret, Ret::Unknown);
        assert!(entries.contains(&Entry::Gone { pid: 101 }));
        assert_eq!(
            readable(&calls[0].text),
            r#"openat(AT_FDCWD</d>, "r.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 3</d/r.tmp>"#
        );
    }

    #[test]
    fn strings_cut_short_and_broken_lines_are_errors_not_guesses() {
        assert!(string(r#""\x61\x62"..."#).unwrap_err().contains("raise -s"));
        let broken = parse("7 write(1<\\x2f>, \"\\x61\", 1 = 1\n7 <... write resumed>) = 1\n");
        assert!(matches!(&broken[0], Entry::Unreadable { line: 1, .. }));
        assert!(matches!(&broken[1], Entry::Unreadable { line: 2, why, .. } if why.contains("never started")));
        assert_eq!(field("{flags=O_RDONLY|O_CLOEXEC, resolve=0}", "flags"), Some("O_RDONLY|O_CLOEXEC"));
        assert_eq!(int("0644"), Some(420));
        assert_eq!(fd("3<\\x2f\\x66>(deleted)").unwrap(), (3, Some(b"/f (deleted)".to_vec())));
        assert_eq!(int("-1"), Some(-1));
    }
}
