//! `imsync-server --listen ADDR --data-dir DIR [--app-key K --app-secret S]
//! [--rate-limit N] [--offline-days N] [connection limits, see --help]`

use imsync_server::config::Config;
use imsync_server::log_escape::OneLinePerEvent;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let config = Config::try_parse_checked(std::env::args_os()).unwrap_or_else(|e| e.exit());
    // Logs go to stderr: stdout carries only the "listening on" line.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("IMSYNC_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // One line per event, whatever a log call forgets to escape.
        .with_writer(OneLinePerEvent)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imsync-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(imsync_server::server::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imsync-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
