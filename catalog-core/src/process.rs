//! Start-up shared by the three binaries: settings, logging and tracing, and the exit code on
//! failure.

use crate::config::Settings;

/// Loads settings (exiting with a message naming the bad variable) and installs logging.
pub fn start(service: &'static str) -> Settings {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{service}: {e}");
            std::process::exit(2);
        }
    };
    crate::telemetry::init(&settings.log, service);
    settings
}

/// Logs what a serving process starts as, and what the environment holds that it does not read
/// (unknown and accepted-but-ignored variables). Only `serve` calls it: logs go to standard
/// output, which `check-config` keeps for the settings.
pub fn announce(service: &'static str, settings: &Settings) {
    let version = env!("CARGO_PKG_VERSION");
    tracing::info!(service, environment = %settings.service.environment, version, "starting");
    crate::config::EnvReport::from_env(&std::env::vars().collect::<Vec<_>>()).log();
}

/// Maps a command's outcome to the process exit code, logging the failure.
pub fn exit(service: &'static str, outcome: anyhow::Result<()>) -> std::process::ExitCode {
    crate::telemetry::flush();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(service, error = %format!("{e:#}"), "command failed");
            eprintln!("{service}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
