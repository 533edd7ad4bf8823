//! The SASS report behind scripts/sass-report.sh: every kernels/*.cu (and any extra .cu given)
//! compiled by NVRTC for sm_90 as the engine compiles it, one line per kernel:
//! `NAME regs=R spill=S smem=B HMMA=n LDSM=n LDGSTS=n LDL=n STL=n`.
//!
//! Usage: sass_report [--mix] [--check] [--cubins DIR] [EXTRA.cu ...]
//!   --mix      also the main-loop instruction mix of every conv3d kernel
//!   --check    exit 1 unless the conv3d_{fwd,xbwd,wbwd}_bf16* kernels use HMMA, LDSM and
//!              LDGSTS with no local memory and no spills
//!   --cubins   keep the CUBINs in DIR
//! Needs STSM_NVRTC_LIB and STSM_SASS_TOOLS (scripts/sass-report.sh sets both).

use std::path::PathBuf;

use stsm_engine::backend::cuda::registry::{KernelSource, SOURCES};
use stsm_engine::backend::cuda::sass::{self, Tools};

fn main() {
    if let Err(e) = run() {
        eprintln!("sass-report: {e}");
        std::process::exit(2);
    }
}

fn run() -> stsm_engine::Result<()> {
    let (mut mix, mut check, mut cubins, mut extra) = (false, false, None, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mix" => mix = true,
            "--check" => check = true,
            "--cubins" => cubins = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: sass-report.sh [--mix] [--check] [--cubins DIR] [EXTRA.cu ...]");
                return Ok(());
            }
            _ if a.starts_with('-') => {
                return Err(stsm_engine::Error::argument(
                    "sass-report",
                    format!("unknown option {a}"),
                ))
            }
            _ => extra.push(sass::source_from_file(&PathBuf::from(a))?),
        }
    }
    let tools = Tools::from_env()?;
    let mut sources: Vec<&KernelSource> = SOURCES.iter().collect();
    sources.extend(extra);
    let reports = sass::report_sources(&sources, &tools, cubins.as_deref())?;
    for r in &reports {
        println!("{r}");
    }
    if mix {
        println!();
        println!(
            "main-loop instruction mix (static counts in the innermost loop with the most matrix, else fp, instructions):"
        );
        for r in reports.iter().filter(|r| r.name.starts_with("conv3d_")) {
            match &r.main_loop {
                Some(m) => println!("{:<28} {m}", r.name),
                None => println!("{:<28} no loop", r.name),
            }
        }
    }
    if check {
        let problems = sass::tensor_core_problems(&reports, &sass::TENSOR_CORE_PREFIXES);
        for p in &problems {
            eprintln!("sass-report: {p}");
        }
        if !problems.is_empty() {
            std::process::exit(1);
        }
        println!("sass-report: tensor-core conv kernels pass (HMMA, LDSM, LDGSTS > 0; LDL = STL = spill = 0)");
    }
    Ok(())
}
