//! The `aviator` binary: parse the command line and hand it to [`aviator_dns::app`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aviator_dns::cli::Cli::parse();
    match aviator_dns::app::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("aviator: {error:#}");
            ExitCode::FAILURE
        }
    }
}
