fn main() -> std::process::ExitCode {
    crashsim::cli::run()
}
