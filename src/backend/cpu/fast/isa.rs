//! Which SIMD kernels the fast CPU path runs: the CPU's features, detected once, and the level
//! in use (the best the CPU has, unless `--cpu-isa` or `STSM_CPU_ISA` asks for a lower one).
//!
//! Every kernel family (the packed GEMM's micro-kernel, the padded-panel loads, the direct
//! convolution, the max-pool rows, the SGD update) reads `active()` per call and runs that
//! level's kernels. Each level sums in its own fixed order, so results are reproducible for a
//! given level and thread count; the levels may differ from each other in the last bits.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The environment variable that picks the level for tests and benchmarks (`auto`, `avx512`,
/// `avx2` or `portable`); the command line's `--cpu-isa` overrides it.
pub const ENV: &str = "STSM_CPU_ISA";

/// A level of SIMD kernels, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CpuIsa {
    /// Plain Rust loops (whatever the compiler makes of them for the baseline target).
    Portable,
    /// 256-bit kernels: AVX2 + FMA.
    Avx2,
    /// 512-bit kernels: AVX-512 F, BW, VL and DQ (plus AVX2 + FMA, which every such CPU has).
    Avx512,
}

/// The features of this CPU that the levels need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    pub avx2_fma: bool,
    pub avx512: bool,
    /// AVX-512 BF16 (`vdpbf16ps`): reported, not yet used by a kernel.
    pub avx512_bf16: bool,
}

/// This CPU's features, detected on the first call.
pub fn features() -> CpuFeatures {
    static DETECTED: OnceLock<CpuFeatures> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2_fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = avx2_fma
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq");
            CpuFeatures {
                avx2_fma,
                avx512,
                avx512_bf16: avx512 && is_x86_feature_detected!("avx512bf16"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuFeatures {
                avx2_fma: false,
                avx512: false,
                avx512_bf16: false,
            }
        }
    })
}

impl CpuIsa {
    /// Every level, lowest first.
    pub const ALL: [CpuIsa; 3] = [CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512];

    /// The name `--cpu-isa` and `STSM_CPU_ISA` take.
    pub fn name(self) -> &'static str {
        match self {
            CpuIsa::Portable => "portable",
            CpuIsa::Avx2 => "avx2",
            CpuIsa::Avx512 => "avx512",
        }
    }

    /// The CPU feature a level needs, as `/proc/cpuinfo` names it (for messages).
    pub fn needs(self) -> &'static str {
        match self {
            CpuIsa::Portable => "nothing",
            CpuIsa::Avx2 => "avx2 and fma",
            CpuIsa::Avx512 => "avx512f",
        }
    }

    /// Whether this CPU runs the level's kernels.
    pub fn supported(self) -> bool {
        let f = features();
        match self {
            CpuIsa::Portable => true,
            CpuIsa::Avx2 => f.avx2_fma,
            CpuIsa::Avx512 => f.avx512,
        }
    }

    /// The best level this CPU runs.
    pub fn best() -> CpuIsa {
        *CpuIsa::ALL
            .iter()
            .rev()
            .find(|l| l.supported())
            .unwrap_or(&CpuIsa::Portable)
    }

    /// The levels this CPU runs, lowest first.
    pub fn supported_levels() -> Vec<CpuIsa> {
        CpuIsa::ALL.into_iter().filter(|l| l.supported()).collect()
    }

    /// `auto` (None: the best this CPU has) or a level's name; `what` names the setting in errors.
    pub fn parse(text: &str, what: &'static str) -> Result<Option<CpuIsa>> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(None),
            name => CpuIsa::ALL
                .into_iter()
                .find(|l| l.name() == name)
                .map(Some)
                .ok_or_else(|| {
                    Error::argument(
                        what,
                        format!("unknown level {text:?}: expected auto, avx512, avx2 or portable"),
                    )
                }),
        }
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<CpuIsa> {
        CpuIsa::ALL.get((code as usize).checked_sub(1)?).copied()
    }
}

impl std::fmt::Display for CpuIsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The level in use; 0 until the first `active()` or `set_active`.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The level `STSM_CPU_ISA` asks for (the best this CPU has when unset or `auto`); an error if
/// the variable names no level or one this CPU lacks.
pub fn from_env() -> Result<CpuIsa> {
    match std::env::var(ENV) {
        Ok(text) => resolve(CpuIsa::parse(&text, ENV)?, ENV),
        Err(_) => Ok(CpuIsa::best()),
    }
}

/// `level` (None: the best this CPU has), or an error naming `what` if this CPU lacks it.
pub fn resolve(level: Option<CpuIsa>, what: &'static str) -> Result<CpuIsa> {
    match level {
        None => Ok(CpuIsa::best()),
        Some(l) if l.supported() => Ok(l),
        Some(l) => Err(Error::argument(
            what,
            format!("this CPU cannot run the {l} kernels: it has no {}", l.needs()),
        )),
    }
}

/// Makes `level` the one every fast kernel runs from now on; an error if this CPU lacks it.
/// Switch only between computations: a convolution running meanwhile may mix levels.
pub fn set_active(level: CpuIsa) -> Result<()> {
    let level = resolve(Some(level), "cpu isa")?;
    ACTIVE.store(level.code(), Ordering::Relaxed);
    Ok(())
}

/// The level the fast kernels run: the last `set_active`, else `STSM_CPU_ISA`, else the best
/// this CPU has. A bad `STSM_CPU_ISA` seen here (no command line to report it to) is printed
/// once on stderr and the best level used; the command line and the benchmarks check it first.
pub fn active() -> CpuIsa {
    if let Some(level) = CpuIsa::from_code(ACTIVE.load(Ordering::Relaxed)) {
        return level;
    }
    let level = from_env().unwrap_or_else(|e| {
        eprintln!("warning: {e}; using {}", CpuIsa::best());
        CpuIsa::best()
    });
    // Another thread may have set a level meanwhile: keep it.
    let _ = ACTIVE.compare_exchange(0, level.code(), Ordering::Relaxed, Ordering::Relaxed);
    CpuIsa::from_code(ACTIVE.load(Ordering::Relaxed)).unwrap_or(level)
}

/// One line naming the level in use and what the CPU has, for `bench` and `train`.
pub fn describe() -> String {
    let f = features();
    let has: Vec<&str> = [
        (f.avx512, "avx512f/bw/vl/dq"),
        (f.avx512_bf16, "avx512_bf16"),
        (f.avx2_fma, "avx2+fma"),
    ]
    .into_iter()
    .filter_map(|(yes, name)| yes.then_some(name))
    .collect();
    let has = if has.is_empty() {
        "none".to_string()
    } else {
        has.join(", ")
    };
    format!("cpu isa: {} (cpu has: {has})", active())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_ones_are_errors() {
        for l in CpuIsa::ALL {
            assert_eq!(CpuIsa::parse(l.name(), "x").unwrap(), Some(l));
        }
        assert_eq!(CpuIsa::parse(" AVX512 ", "x").unwrap(), Some(CpuIsa::Avx512));
        assert_eq!(CpuIsa::parse("auto", "x").unwrap(), None);
        let err = CpuIsa::parse("sse9", "--cpu-isa").unwrap_err().to_string();
        assert!(err.contains("--cpu-isa") && err.contains("sse9"), "{err}");
    }

    #[test]
    fn levels_the_cpu_lacks_are_errors_and_the_best_is_supported() {
        assert!(CpuIsa::best().supported());
        assert!(CpuIsa::Portable.supported());
        for l in CpuIsa::ALL {
            match resolve(Some(l), "--cpu-isa") {
                Ok(got) => assert!(l.supported() && got == l),
                Err(e) => {
                    assert!(!l.supported());
                    assert!(e.to_string().contains(l.needs()), "{e}");
                }
            }
        }
        // Levels are ordered: a CPU with a level has every lower one.
        let levels = CpuIsa::supported_levels();
        assert_eq!(levels, CpuIsa::ALL[..levels.len()]);
    }
}
