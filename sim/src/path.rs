//! Path checking shared by `SimFs` and `RealFs`, so both refuse the same paths the same way.

use crate::{Errno, FsResult};

/// Longest component Linux accepts (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Splits a path relative to the filesystem root into its components.
///
/// `""` and `"/"` are the root (no components). `..` is refused with `EXDEV` because it may
/// escape the root; an empty or `.` component, or a NUL byte, with `EINVAL`; a component longer
/// than [`NAME_MAX`] with `ENAMETOOLONG`.
pub fn components(path: &str) -> FsResult<Vec<&str>> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    for part in &parts {
        match *part {
            ".." => return Err(Errno::EXDEV),
            "" | "." => return Err(Errno::EINVAL),
            p if p.contains('\0') => return Err(Errno::EINVAL),
            p if p.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
            _ => {}
        }
    }
    Ok(parts)
}

/// Splits a path into its parent's components and its last component, for the calls that
/// change a directory entry. The root has no parent: `EBUSY`.
pub fn parent_and_leaf(path: &str) -> FsResult<(Vec<&str>, &str)> {
    let mut parts = components(path)?;
    match parts.pop() {
        Some(leaf) => Ok((parts, leaf)),
        None => Err(Errno::EBUSY),
    }
}

/// Joins components back into a root-relative path (`""` for the root).
pub fn join(parts: &[&str]) -> String {
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_refuses() {
        assert_eq!(components("/a/b").unwrap(), vec!["a", "b"]);
        assert_eq!(components("a").unwrap(), vec!["a"]);
        assert!(components("/").unwrap().is_empty());
        assert_eq!(components("a/../b"), Err(Errno::EXDEV));
        assert_eq!(components("a//b"), Err(Errno::EINVAL));
        assert_eq!(components("a/./b"), Err(Errno::EINVAL));
        assert_eq!(components(&"x".repeat(256)), Err(Errno::ENAMETOOLONG));
        assert_eq!(parent_and_leaf("/"), Err(Errno::EBUSY));
        assert_eq!(parent_and_leaf("a/b").unwrap(), (vec!["a"], "b"));
    }
}
