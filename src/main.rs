//! The sluice binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use sluice::telemetry::LogFormat;
use std::io::IsTerminal;

/// Rust's allocations go to jemalloc. The pipeline frees on one thread what the source thread
/// allocated (every change event), and glibc's malloc spent a third to a half of the process's
/// CPU on that pattern (consolidating fast bins, unlinking chunks); jemalloc's thread caches
/// take it in stride. On the pipeline bench (200,000 events, `batch.size=1000`) the process's
/// CPU went from ~5.1 to ~3.4 s, the steady rate from ~28k to ~35k events/s, and peak RSS from
/// ~64 to ~59 MB with the settings of [`MALLOC_CONF`].
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (before `main`): one arena (two cores need no
/// more, and each arena holds memory of its own), freed pages handed back to the system after
/// 1 s instead of 10, without the lazy "muzzy" stage. `_RJEM_MALLOC_CONF` in the environment
/// overrides them.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: Option<&std::ffi::c_char> =
    // SAFETY: the pointer is to the first byte of a NUL-terminated string literal, which lives
    // for the whole program.
    Some(unsafe { &*c"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

fn main() {
    tune_allocator();
    // Parsed first, so `--log-format` applies; `--help` and `--version` print and exit here.
    let cli = sluice::cli::Cli::parse();
    init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sluice: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(sluice::cli::main(cli));
    std::process::exit(code);
}

/// Logs go to stderr, filtered by `SLUICE_LOG`. Text carries colour codes only when stderr is
/// a terminal and `NO_COLOR` is unset, so a file, a pipe or a log collector gets plain lines.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| "info,rdkafka=warn,sqlx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            logs.with_ansi(colour).init()
        }
        LogFormat::Json => logs.json().init(),
    }
}

/// Fixes glibc's mmap threshold at 128 KB (glibc's malloc still serves librdkafka and the other
/// C libraries), so large blocks (librdkafka's fetch responses) are mapped on their own and go back to the system when freed.
/// By default glibc raises the threshold to the size of each mapped block freed (up to 32
/// MB), after which such blocks come from the thread arenas and stay resident there: 13 MB
/// of the pipeline bench's peak RSS (`benches/pipeline/main.rs`, 87 -> 74 MB, rate unchanged).
/// `MALLOC_MMAP_THRESHOLD_` in the environment still decides when set.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other
        // thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}
