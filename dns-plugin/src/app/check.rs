//! `aviator check`: validate a clusterset file, print every error, exit non-zero if any.

use std::process::ExitCode;

use aviator_broker::clusterset;

use crate::cli::CheckArgs;
use crate::snapshot;

pub fn check(args: &CheckArgs) -> ExitCode {
    let set = match clusterset::load(&args.config) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // Rendering can still fail (a name longer than DNS allows), so check it too.
    if let Err(error) = snapshot::build(&set, None, &snapshot::Nameserver::default()) {
        eprintln!("{}: {error}", args.config.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{}: ok: {} clusters, {} services, zones {}",
        args.config.display(),
        set.clusters.len(),
        set.services.len(),
        set.dns.zones.join(", ")
    );
    ExitCode::SUCCESS
}
