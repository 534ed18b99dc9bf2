//! The program that replays a case of the session store: the `crashsim` binary, as a user would
//! type it ([`crate::subject::Subject::program`]); the command is the generic one
//! ([`crate::case_text::replay_command`]).

/// How a printed command starts: `crashsim` when this program is the installed `crashsim` (or
/// the library is used from elsewhere, as in tests), `cargo run --release --features cli --` when
/// it is the binary of a checkout's `target/` directory, so that a copied replay command runs as
/// it is.
pub fn program() -> &'static str {
    static PROGRAM: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    PROGRAM.get_or_init(|| {
        let exe = std::env::current_exe().ok();
        let from_checkout = exe.as_ref().is_some_and(|exe| {
            exe.file_stem().is_some_and(|stem| stem == "crashsim")
                && exe.parent().and_then(|p| p.parent()).is_some_and(|t| t.file_name().is_some_and(|n| n == "target"))
        });
        if from_checkout {
            "cargo run --release --features cli --"
        } else {
            "crashsim"
        }
    })
}
