//! What each subcommand does: the control plane around the DNS hot path.

mod broker_setup;
mod check;
pub mod control;
mod explain;
mod kube_source;
mod kube_utilization;
mod memory;
mod node_place;
mod own_slices;
mod policy_status;
mod reload;
pub(crate) mod serve;
mod simulate;
mod solve;
mod telemetry;
mod writer_lease;
mod zone_check;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    memory::limit_arenas();
    telemetry::init_logs(&cli.log_level)?;
    match cli.command {
        Command::Check(args) => Ok(check::check(&args)),
        Command::Solve(args) => solve::solve(&args),
        Command::Simulate(args) => simulate::simulate(&args),
        Command::Crd => {
            print!("{}", aviator_broker::kubernetes::crd::crds_yaml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::demo::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(explain::explain(&args))
        }
        Command::Serve(args) => {
            // This thread runs TCP DNS, the admin endpoints and the sources; the control loop
            // runs on a thread of its own (see `serve`), UDP on threads of its own, one per core
            // (see `server`), so neither waits for the other's work.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve::serve(*args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
