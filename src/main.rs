//! `gitsign`: maps a command's result to an exit code, nothing else.

fn main() {
    let command = match gitsign::cli::parse(std::env::args_os().skip(1).collect()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gitsign: {e}");
            std::process::exit(gitsign::app::USAGE);
        }
    };
    std::process::exit(gitsign::app::run(command));
}
