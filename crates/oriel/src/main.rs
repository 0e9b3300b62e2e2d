//! The `oriel` binary: `oriel serve` runs a node; the other subcommands administer a data
//! directory, with or without a server running on it.

mod acme;
mod cli;
mod cluster;
mod config_file;
mod database_url;
mod handover;
mod listener;
mod logging;
mod serve;
mod tls;
mod turn;

// str0m allocates per packet (an egress datagram, an ingress RTP packet); mimalloc's
// thread-local free lists make that cheaper than glibc's malloc on the media threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match config_file::parse() {
        Ok(cli) => cli,
        Err(error) => {
            eprintln!("oriel: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("oriel: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli.command));
    // Tasks still running (a connection past the drain deadline, a blocking call) must not
    // keep a stopping node alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oriel: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
