//! The sluice binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| "info,rdkafka=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = sluice::cli::main(sluice::cli::Cli::parse()).await;
    std::process::exit(code);
}
