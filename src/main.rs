//! The `stsm-engine` command line. All work happens in the library; this only reports errors.

/// Large tensors on transparent huge pages (see `stsm_engine::hugepages`).
#[global_allocator]
static ALLOCATOR: stsm_engine::hugepages::HugePages = stsm_engine::hugepages::HugePages;

fn main() {
    // Freed buffers stay in the heap for the next op's outputs (see `stsm_engine::hugepages`).
    stsm_engine::hugepages::keep_freed_buffers();
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
