//! Fault plans (not built yet; see the issue "The explorer"): at each syscall boundary go on,
//! crash, fail with an errno (ENOSPC, EIO, EACCES, EDQUOT) or write short; plans come from
//! exhaustive enumeration or a ChaCha seed, and are plain, printable, replayable data. They act
//! on a `SimFs` through `crashsim_sim::Injector`.
