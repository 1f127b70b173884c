//! Subcommands every binary shares: `migrate`, `check-config`, `seed`. Each binary adds `serve`.

use crate::config::Settings;
use crate::db;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (default).
    Up,
    /// Revert the most recent migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum SharedCommand {
    /// Run database migrations (embedded in the binary) under an advisory lock.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Print the effective configuration, secrets redacted, and exit; aliases, accepted-and-ignored
    /// and unknown variables are listed first, as comments.
    CheckConfig,
    /// Load the demo catalog, or a large synthetic one with --products.
    Seed(crate::seed::SeedArgs),
}

/// Runs a shared subcommand to completion.
pub async fn run(command: SharedCommand, settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database.url();
    match command {
        SharedCommand::Migrate { action } => match action.unwrap_or(MigrateAction::Up) {
            MigrateAction::Up => {
                let applied = db::migrate(url.expose()).await?;
                println!("applied {} migration(s){}", applied.len(), list(&applied));
            }
            MigrateAction::Down { steps } => {
                let reverted = db::revert(url.expose(), steps).await?;
                println!("reverted {} migration(s){}", reverted.len(), list(&reverted));
            }
            MigrateAction::Status => {
                for (version, applied) in db::migration_status(url.expose()).await? {
                    println!("{} {version}", if applied { "[x]" } else { "[ ]" });
                }
            }
        },
        SharedCommand::CheckConfig => {
            let report = crate::config::EnvReport::from_env(&std::env::vars().collect::<Vec<_>>());
            print!("{}{}", report.comments(), settings.redacted_toml());
        }
        SharedCommand::Seed(args) => {
            let pool = db::pool(&settings.database)?;
            let report = crate::seed::run(&pool, &args).await?;
            println!("{report}");
        }
    }
    Ok(())
}

fn list(versions: &[String]) -> String {
    if versions.is_empty() { String::new() } else { format!(": {}", versions.join(", ")) }
}
