//! The `stsm-engine` command line. All work happens in the library; this only reports errors.

fn main() {
    if let Err(err) = stsm_engine::cli::run() {
        eprintln!("error: {err}");
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(1);
    }
}
