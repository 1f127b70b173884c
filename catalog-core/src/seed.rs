//! Demo and scale data (`seed` subcommand).

use crate::db::PgPool;

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Generate this many synthetic products instead of the demo catalog.
    #[arg(long)]
    pub products: Option<u64>,
}

pub async fn run(_pool: &PgPool, _args: &SeedArgs) -> anyhow::Result<String> {
    anyhow::bail!("seed is not implemented yet")
}
