//! `stsm-engine report DIR`: the paper's tables in markdown from a directory of runs (written to
//! DIR/report.md and printed).

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A sweep directory, a protocol run directory (fold-NN/ folders), a run directory, or a
    /// folder of any of these.
    dir: PathBuf,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let md = crate::train::report::write(&args.dir)?;
    print!("{md}");
    Ok(())
}
