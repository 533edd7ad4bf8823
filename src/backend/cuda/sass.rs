//! Layer 1 sees the machine code: each kernel file compiled by NVRTC to an sm_90 CUBIN as the
//! engine compiles it, disassembled with `nvdisasm`, its resources read with `cuobjdump
//! -res-usage` and ptxas' `-v` log, and summarised per kernel: registers, spills, shared memory
//! (static plus what the launcher requests dynamically), and counts of the instructions that
//! say whether the tensor-core path is there (`HMMA`, `LDSM`, `LDGSTS`) and whether anything
//! went to local memory (`LDL`, `STL`). For the main loop (found by its backward branch: the
//! innermost loop holding the most matrix, else floating-point, instructions) it gives the
//! instruction mix. `scripts/sass-report.sh` prints it and
//! `tests/sass_report.rs` checks it; the tools come from PyPI (scripts/install-sass-tools.sh).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::nvrtc::{self, Output};
use super::registry::KernelSource;
use crate::error::{Error, Result};

/// Environment variable naming the folder that holds `cuobjdump` and `nvdisasm` (printed by
/// scripts/install-sass-tools.sh).
pub const TOOLS_ENV: &str = "STSM_SASS_TOOLS";

/// The architecture the report disassembles: the H100/H200's.
pub const ARCH: &str = "sm_90";

/// The disassemblers.
#[derive(Clone, Debug)]
pub struct Tools {
    pub cuobjdump: PathBuf,
    pub nvdisasm: PathBuf,
}

impl Tools {
    /// The tools in the folder [`TOOLS_ENV`] names.
    pub fn from_env() -> Result<Tools> {
        let dir = std::env::var_os(TOOLS_ENV).ok_or_else(|| {
            Error::argument(
                TOOLS_ENV,
                "unset: run scripts/install-sass-tools.sh and export the line it prints",
            )
        })?;
        let dir = PathBuf::from(dir);
        let tools = Tools {
            cuobjdump: dir.join("cuobjdump"),
            nvdisasm: dir.join("nvdisasm"),
        };
        for t in [&tools.cuobjdump, &tools.nvdisasm] {
            if !t.is_file() {
                return Err(Error::argument(TOOLS_ENV, format!("{} does not exist", t.display())));
            }
        }
        Ok(tools)
    }

    fn run(&self, tool: &Path, args: &[&str], cubin: &Path) -> Result<String> {
        let out = Command::new(tool)
            .args(args)
            .arg(cubin)
            .output()
            .map_err(|e| Error::cuda(tool.display().to_string(), format!("cannot run: {e}")))?;
        if !out.status.success() {
            return Err(Error::cuda(
                format!("{} {}", tool.display(), cubin.display()),
                format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// What ptxas' `-v` log says of one kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PtxasRow {
    pub registers: u32,
    /// Spill stores + spill loads, bytes.
    pub spill_bytes: u64,
    /// Static shared memory, bytes.
    pub static_smem: u64,
}

/// Per kernel, from the `ptxas info` lines NVRTC returns as its log with `--ptxas-options=-v`.
pub fn parse_ptxas_log(log: &str) -> HashMap<String, PtxasRow> {
    fn number_before(line: &str, unit: &str) -> Option<u64> {
        let at = line.find(unit)?;
        line[..at].split_whitespace().last()?.parse().ok()
    }
    const ENTRY: &str = "Compiling entry function '";
    let mut rows = HashMap::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if let Some(at) = line.find(ENTRY) {
            let rest = &line[at + ENTRY.len()..];
            let name = rest[..rest.find('\'').unwrap_or(rest.len())].to_string();
            rows.insert(name.clone(), PtxasRow::default());
            current = Some(name);
            continue;
        }
        let Some(row) = current.as_ref().and_then(|n| rows.get_mut(n)) else {
            continue;
        };
        if let Some(s) = number_before(line, "bytes spill stores") {
            row.spill_bytes += s + number_before(line, "bytes spill loads").unwrap_or(0);
        }
        if let Some(r) = number_before(line, "registers") {
            row.registers = r as u32;
        }
        if let Some(s) = number_before(line, "bytes smem") {
            row.static_smem = s;
        }
    }
    rows
}

/// `REG` per function from `cuobjdump -res-usage` (the registers the loader allocates).
pub fn parse_res_usage(text: &str) -> HashMap<String, u32> {
    let mut regs = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Function ").and_then(|r| r.strip_suffix(':')) {
            current = Some(name.to_string());
        } else if let (Some(name), Some(rest)) = (&current, line.strip_prefix("REG:")) {
            if let Some(Ok(r)) = rest.split_whitespace().next().map(str::parse) {
                regs.insert(name.clone(), r);
            }
        }
    }
    regs
}

/// One disassembled instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instr {
    pub addr: u32,
    /// The opcode with its modifiers, e.g. `HMMA.16816.F32.BF16`.
    pub opcode: String,
    /// The label a branch jumps to.
    pub target: Option<String>,
}

impl Instr {
    /// The opcode without modifiers (`HMMA`, `LDGSTS`).
    pub fn base(&self) -> &str {
        self.opcode.split('.').next().unwrap_or("")
    }
}

/// One function of `nvdisasm -c` output: its instructions and label addresses.
#[derive(Clone, Debug, Default)]
pub struct Function {
    pub name: String,
    pub instrs: Vec<Instr>,
    pub labels: HashMap<String, u32>,
}

/// Splits `nvdisasm -c` output into functions (sections `.text.NAME`).
pub fn parse_nvdisasm(text: &str) -> Vec<Function> {
    let mut functions: Vec<Function> = Vec::new();
    // Labels seen since the last instruction, placed at the next one's address.
    let mut pending: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("//---------------------") {
            let title = rest.trim_matches(|c: char| c == '-' || c.is_whitespace());
            pending.clear();
            if let Some(name) = title.strip_prefix(".text.") {
                functions.push(Function {
                    name: name.to_string(),
                    ..Function::default()
                });
            } else {
                // A non-code section (.nv.info, SYMBOLS): no instructions follow.
                functions.push(Function::default());
            }
            continue;
        }
        let Some(f) = functions.last_mut().filter(|f| !f.name.is_empty()) else {
            continue;
        };
        if let Some(label) = line.strip_suffix(':').filter(|l| l.starts_with(".L")) {
            pending.push(label.to_string());
            continue;
        }
        let Some(rest) = line.strip_prefix("/*") else { continue };
        let Some((addr, body)) = rest.split_once("*/") else {
            continue;
        };
        let Ok(addr) = u32::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        let mut words = body.split_whitespace().peekable();
        if words.peek().is_some_and(|w| w.starts_with('@')) {
            words.next(); // predicate
        }
        let Some(opcode) = words.next() else { continue };
        let opcode = opcode.trim_end_matches(';').to_string();
        let target = body
            .find("`(")
            .and_then(|at| body[at + 2..].split(')').next())
            .map(str::to_string);
        for l in pending.drain(..) {
            f.labels.insert(l, addr);
        }
        f.instrs.push(Instr { addr, opcode, target });
    }
    functions.retain(|f| !f.name.is_empty());
    functions
}

/// A loop: the instructions from a backward branch's target up to the branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loop {
    pub start: u32,
    pub end: u32,
}

impl Function {
    /// Every loop closed by a backward branch, except the one-instruction `BRA` to itself that
    /// ends each function.
    pub fn loops(&self) -> Vec<Loop> {
        let mut loops: Vec<Loop> = self
            .instrs
            .iter()
            .filter(|i| i.base() == "BRA")
            .filter_map(|i| {
                let start = *self.labels.get(i.target.as_ref()?)?;
                (start < i.addr).then_some(Loop { start, end: i.addr })
            })
            .collect();
        loops.sort_by_key(|l| (l.start, l.end));
        loops.dedup();
        loops
    }

    fn instrs_in(&self, l: Loop) -> impl Iterator<Item = &Instr> {
        self.instrs.iter().filter(move |i| l.start <= i.addr && i.addr <= l.end)
    }

    /// Instructions whose opcode (without modifiers) is `base`.
    pub fn count(&self, base: &str) -> usize {
        self.instrs.iter().filter(|i| i.base() == base).count()
    }

    /// The main loop, found by backward branches: of the loops holding matrix instructions
    /// (else floating-point ones), the innermost, i.e. one that holds no other such loop; of
    /// several, the one with the most of them. Its body may still hold smaller loops without
    /// them (a loader loop that was not unrolled): the mix counts their instructions once, as
    /// they stand in the code, not as often as they run.
    pub fn main_loop(&self) -> Option<Mix> {
        let mixes: Vec<Mix> = self
            .loops()
            .into_iter()
            .map(|l| Mix::of(l, self.instrs_in(l)))
            .collect();
        let class = [Class::Mma, Class::Float]
            .into_iter()
            .find(|c| mixes.iter().any(|m| m.counts[*c as usize] > 0))?;
        let holds = |m: &Mix| m.counts[class as usize] > 0;
        let inside = |inner: &Mix, outer: &Mix| {
            inner.span != outer.span && outer.span.start <= inner.span.start && inner.span.end <= outer.span.end
        };
        mixes
            .iter()
            .filter(|m| holds(m) && !mixes.iter().any(|o| holds(o) && inside(o, m)))
            .max_by_key(|m| (m.counts[class as usize], std::cmp::Reverse(m.total)))
            .cloned()
    }
}

/// What an instruction does, for the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Tensor-core matrix products (HMMA, HGMMA, IMMA).
    Mma,
    /// Floating-point arithmetic on the ordinary cores (FFMA, FADD, DFMA, ...).
    Float,
    /// Loads from global, shared or local memory, including cp.async and ldmatrix.
    Load,
    Store,
    /// Integer and address arithmetic, predicates, moves.
    Integer,
    /// The parts of a division by a run-time value (MUFU.RCP, I2F, F2I) and other special functions.
    Special,
    /// Branches, barriers, waits and everything else.
    Other,
}

const CLASSES: usize = 7;

impl Class {
    pub fn of(base: &str) -> Class {
        match base {
            "HMMA" | "HGMMA" | "IMMA" | "QGMMA" => Class::Mma,
            "FFMA" | "FADD" | "FMUL" | "FMNMX" | "FSETP" | "FSEL" | "DFMA" | "DADD" | "DMUL" | "DSETP" | "HFMA2"
            | "HADD2" | "HMUL2" | "F2FP" => Class::Float,
            "LDG" | "LDGSTS" | "LDS" | "LDSM" | "LDL" | "LD" | "LDC" | "ULDC" => Class::Load,
            "STG" | "STS" | "STL" | "ST" | "RED" | "ATOM" | "ATOMS" | "ATOMG" => Class::Store,
            "MUFU" | "I2F" | "F2I" | "I2FP" | "F2F" => Class::Special,
            "LEA" | "SHF" | "SHL" | "SHR" | "LOP3" | "SEL" | "MOV" | "PRMT" | "VIADD" | "VIMNMX" | "P2R" | "R2P"
            | "PLOP3" | "S2R" | "S2UR" | "CS2R" | "FLO" | "POPC" | "BMSK" | "SGXT" | "R2UR" | "SHFL" => Class::Integer,
            b if b.starts_with('I') || b.starts_with('U') => Class::Integer,
            _ => Class::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Class::Mma => "mma",
            Class::Float => "fp",
            Class::Load => "load",
            Class::Store => "store",
            Class::Integer => "int/addr",
            Class::Special => "div/special",
            Class::Other => "other",
        }
    }
}

/// The instruction mix of one loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    pub span: Loop,
    pub total: usize,
    /// Instructions per [`Class`], indexed by `Class as usize`.
    pub counts: [usize; CLASSES],
}

impl Mix {
    fn of<'a>(span: Loop, instrs: impl Iterator<Item = &'a Instr>) -> Mix {
        let mut counts = [0; CLASSES];
        let mut total = 0;
        for i in instrs {
            counts[Class::of(i.base()) as usize] += 1;
            total += 1;
        }
        Mix { span, total, counts }
    }

    /// Share of `class` in percent.
    pub fn percent(&self, class: Class) -> f64 {
        100.0 * self.counts[class as usize] as f64 / self.total.max(1) as f64
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loop {:#06x}..{:#06x} {} instrs:",
            self.span.start, self.span.end, self.total
        )?;
        for c in [
            Class::Mma,
            Class::Float,
            Class::Load,
            Class::Store,
            Class::Integer,
            Class::Special,
            Class::Other,
        ] {
            write!(f, " {}={:.0}%", c.label(), self.percent(c))?;
        }
        Ok(())
    }
}

/// One kernel's line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelReport {
    pub name: String,
    pub registers: u32,
    pub spill_bytes: u64,
    /// Static shared memory plus the most the launcher requests dynamically.
    pub smem: u64,
    pub hmma: usize,
    pub ldsm: usize,
    pub ldgsts: usize,
    pub ldl: usize,
    pub stl: usize,
    pub main_loop: Option<Mix>,
}

impl fmt::Display for KernelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} regs={} spill={} smem={} HMMA={} LDSM={} LDGSTS={} LDL={} STL={}",
            self.name,
            self.registers,
            self.spill_bytes,
            self.smem,
            self.hmma,
            self.ldsm,
            self.ldgsts,
            self.ldl,
            self.stl
        )
    }
}

/// Reports every kernel of `src`, compiled for [`ARCH`] as the module cache compiles it (plus
/// `-v`). `dynamic_smem` gives the dynamic shared memory the launcher requests for a kernel.
pub fn report_file(
    src: &KernelSource,
    tools: &Tools,
    dynamic_smem: &dyn Fn(&str) -> u32,
    keep_cubin_in: Option<&Path>,
) -> Result<Vec<KernelReport>> {
    let mut opts = nvrtc::base_options(ARCH);
    opts.push("--ptxas-options=-v".into());
    let compiled = nvrtc::compile(src, &opts, Output::Cubin)?;
    let ptxas = parse_ptxas_log(&compiled.log);
    let stem = src.file.trim_end_matches(".cu");
    let (cubin, temporary) = match keep_cubin_in {
        Some(dir) => (dir.join(format!("{stem}.{ARCH}.cubin")), false),
        None => (
            std::env::temp_dir().join(format!(
                "stsm-sass-{}-{stem}-{:016x}.cubin",
                std::process::id(),
                src.hash
            )),
            true,
        ),
    };
    crate::fsutil::write_atomically(&cubin, |f| std::io::Write::write_all(f, &compiled.code))?;
    let disassembled = tools.run(&tools.nvdisasm, &["-c"], &cubin);
    let usage = tools.run(&tools.cuobjdump, &["-res-usage"], &cubin);
    if temporary {
        let _ = std::fs::remove_file(&cubin);
    }
    let functions = parse_nvdisasm(&disassembled?);
    let registers = parse_res_usage(&usage?);
    let mut reports = Vec::new();
    for f in &functions {
        let row = ptxas.get(&f.name).ok_or_else(|| {
            Error::cuda(
                format!("kernels/{}", src.file),
                format!("ptxas said nothing about {}:\n{}", f.name, compiled.log),
            )
        })?;
        reports.push(KernelReport {
            name: f.name.clone(),
            registers: registers.get(&f.name).copied().unwrap_or(row.registers),
            spill_bytes: row.spill_bytes,
            smem: row.static_smem + dynamic_smem(&f.name) as u64,
            hmma: f.count("HMMA"),
            ldsm: f.count("LDSM"),
            ldgsts: f.count("LDGSTS"),
            ldl: f.count("LDL"),
            stl: f.count("STL"),
            main_loop: f.main_loop(),
        });
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// A kernel file outside kernels/ (a test fixture), compiled with kernels/' headers. Its text
/// is leaked: a report runs once per process.
pub fn source_from_file(path: &Path) -> Result<&'static KernelSource> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    Ok(Box::leak(Box::new(KernelSource {
        file: Box::leak(file.into_boxed_str()),
        source: Box::leak(text.into_boxed_str()),
        hash,
        entry_points: &[],
    })))
}

/// Reports every kernel of `sources`, with the launchers' dynamic shared memory
/// ([`max_dynamic_shared_bytes`](super::ops::common::max_dynamic_shared_bytes)), sorted by name.
pub fn report_sources(
    sources: &[&KernelSource],
    tools: &Tools,
    keep_cubins_in: Option<&Path>,
) -> Result<Vec<KernelReport>> {
    let mut all = Vec::new();
    for src in sources {
        all.extend(report_file(
            src,
            tools,
            &super::ops::common::max_dynamic_shared_bytes,
            keep_cubins_in,
        )?);
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The tensor-core conv kernels: each prefix must name at least one kernel of the report.
pub const TENSOR_CORE_PREFIXES: [&str; 3] = ["conv3d_fwd_bf16", "conv3d_xbwd_bf16", "conv3d_wbwd_bf16"];

/// Kernels of the tensor-core families that only sum split-K partial products (no matrix work).
pub const SPLIT_K_HELPER_SUFFIXES: [&str; 2] = ["_reduce", "_splitk_store"];

/// What is wrong with the tensor-core kernels of `reports`: for each prefix, no GEMM kernel at
/// all, or a GEMM kernel without HMMA, LDSM or LDGSTS; any kernel of the family (split-K helpers
/// too) with local memory or spills. Empty when all is well.
pub fn tensor_core_problems(reports: &[KernelReport], prefixes: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for prefix in prefixes {
        let family: Vec<&KernelReport> = reports.iter().filter(|r| r.name.starts_with(prefix)).collect();
        let is_helper = |k: &KernelReport| SPLIT_K_HELPER_SUFFIXES.iter().any(|s| k.name.ends_with(s));
        if family.iter().all(|k| is_helper(k)) {
            problems.push(format!("no kernel named {prefix}*"));
        }
        for k in family {
            let gemm = !is_helper(k);
            for (bad, what) in [
                (gemm && k.hmma == 0, "no HMMA"),
                (gemm && k.ldsm == 0, "no LDSM"),
                (gemm && k.ldgsts == 0, "no LDGSTS"),
                (k.ldl > 0 || k.stl > 0, "local memory (LDL/STL)"),
                (k.spill_bytes > 0, "register spills"),
            ] {
                if bad {
                    problems.push(format!("{what}: {k}"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k_a' for 'sm_90'
ptxas info    : Function properties for k_a
ptxas         .     8 bytes stack frame, 12 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 56 registers, used 1 barriers, 8192 bytes smem
ptxas info    : Compiling entry function 'k_b' for 'sm_90'
ptxas info    : Function properties for k_b
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 28 registers, used 1 barriers
";

    #[test]
    fn ptxas_rows_per_kernel() {
        let rows = parse_ptxas_log(LOG);
        assert_eq!(
            rows["k_a"],
            PtxasRow {
                registers: 56,
                spill_bytes: 16,
                static_smem: 8192
            }
        );
        assert_eq!(
            rows["k_b"],
            PtxasRow {
                registers: 28,
                spill_bytes: 0,
                static_smem: 0
            }
        );
    }

    #[test]
    fn res_usage_registers() {
        let text = "Resource usage:\n Common:\n  GLOBAL:0\n Function k_a:\n  REG:56 STACK:0 SHARED:9216 LOCAL:0\n Function k_b:\n  REG:28 STACK:0 SHARED:1024 LOCAL:0\n";
        let regs = parse_res_usage(text);
        assert_eq!((regs["k_a"], regs["k_b"], regs.len()), (56, 28, 2));
    }

    /// A hand-made listing: an outer loop (0x20..0x90) around an inner one (0x40..0x70) with
    /// the HMMA, an epilogue loop without any (0xa0..0xb0), and the trailing self-branch.
    const SASS: &str = "
//--------------------- .text.k_a --------------------------
        .global k_a
k_a:
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   IMAD R1, R0, 0x4, RZ ;
.L_x_0:
        /*0020*/                   LDGSTS.E.BYPASS.128 [R1], desc[UR4][R2.64] ;
        /*0030*/                   LDSM.16.M88.4 R4, [R6] ;
.L_x_1:
        /*0040*/                   HMMA.16816.F32.BF16 R8, R4, R4, R8 ;
        /*0050*/                   HMMA.16816.F32.BF16 R12, R4, R4, R12 ;
        /*0060*/                   IADD3 R1, R1, 0x10, RZ ;
        /*0070*/              @!P0 BRA `(.L_x_1) ;
        /*0080*/                   ISETP.GE.AND P1, PT, R1, R2, PT ;
        /*0090*/               @P1 BRA `(.L_x_0) ;
.L_x_2:
        /*00a0*/                   STG.E [R2.64], R8 ;
        /*00b0*/               @P2 BRA `(.L_x_2) ;
        /*00c0*/                   LDL R3, [R1] ;
        /*00d0*/                   EXIT ;
.L_x_3:
        /*00e0*/                   BRA `(.L_x_3);
//--------------------- .text.k_b --------------------------
k_b:
        /*0000*/                   STL [R1], R2 ;
        /*0010*/                   EXIT ;
//--------------------- .text.k_c --------------------------
k_c:
.L_x_9:
        /*0000*/                   IMAD R1, R1, R2, RZ ;
.L_x_10:
        /*0010*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0020*/              @!P0 BRA `(.L_x_10) ;
        /*0030*/                   FFMA R5, R4, R4, R5 ;
        /*0040*/                   FFMA R6, R4, R4, R6 ;
        /*0050*/               @P1 BRA `(.L_x_9) ;
        /*0060*/                   EXIT ;
//--------------------- SYMBOLS --------------------------
        /*0000*/                   HMMA.16816.F32.BF16 R8, R4, R4, R8 ;
";

    #[test]
    fn functions_counts_and_the_innermost_hmma_loop() {
        let fs = parse_nvdisasm(SASS);
        assert_eq!(
            fs.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["k_a", "k_b", "k_c"]
        );
        let a = &fs[0];
        assert_eq!(
            (
                a.count("HMMA"),
                a.count("LDSM"),
                a.count("LDGSTS"),
                a.count("LDL"),
                a.count("STL")
            ),
            (2, 1, 1, 1, 0)
        );
        assert_eq!(
            a.loops(),
            [
                Loop { start: 0x20, end: 0x90 },
                Loop { start: 0x40, end: 0x70 },
                Loop { start: 0xa0, end: 0xb0 }
            ]
        );
        let mix = a.main_loop().expect("a main loop");
        assert_eq!(mix.span, Loop { start: 0x40, end: 0x70 });
        assert_eq!(mix.total, 4);
        assert_eq!(mix.counts[Class::Mma as usize], 2);
        assert_eq!(mix.counts[Class::Integer as usize], 1);
        assert_eq!(mix.counts[Class::Other as usize], 1);
        assert_eq!(mix.percent(Class::Mma), 50.0);
        assert_eq!((fs[1].count("STL"), fs[1].main_loop()), (1, None));
        // No matrix instructions: the loop with the FFMAs, though a loader loop sits inside it.
        let c = fs[2].main_loop().expect("a main loop");
        assert_eq!(c.span, Loop { start: 0x00, end: 0x50 });
        assert_eq!(
            (c.total, c.counts[Class::Float as usize], c.counts[Class::Load as usize]),
            (6, 2, 1)
        );
    }

    fn report(name: &str, hmma: usize, ldl: usize, spill: u64) -> KernelReport {
        KernelReport {
            name: name.into(),
            registers: 128,
            spill_bytes: spill,
            smem: 0,
            hmma,
            ldsm: 4,
            ldgsts: 4,
            ldl,
            stl: 0,
            main_loop: None,
        }
    }

    #[test]
    fn the_check_names_missing_kernels_and_each_fault() {
        let good = [
            report("conv3d_fwd_bf16_a", 8, 0, 0),
            report("conv3d_fwd_bf16_splitk_store", 0, 0, 0),
            report("conv3d_xbwd_bf16", 8, 0, 0),
            report("conv3d_wbwd_bf16", 8, 0, 0),
        ];
        assert!(tensor_core_problems(&good, &TENSOR_CORE_PREFIXES).is_empty());
        // A split-K helper alone is no GEMM kernel, and it must not touch local memory either.
        let helpers = [
            report("conv3d_fwd_bf16_splitk_store", 0, 0, 0),
            report("conv3d_xbwd_bf16", 8, 0, 0),
            report("conv3d_wbwd_bf16_reduce", 0, 3, 0),
        ];
        assert_eq!(
            tensor_core_problems(&helpers, &TENSOR_CORE_PREFIXES),
            [
                "no kernel named conv3d_fwd_bf16*".to_string(),
                "no kernel named conv3d_wbwd_bf16*".to_string(),
                format!("local memory (LDL/STL): {}", helpers[2]),
            ]
        );
        let bad = [
            report("conv3d_fwd_bf16_a", 0, 0, 0),
            report("conv3d_fwd_bf16_b", 8, 2, 4),
            report("conv3d_wbwd_bf16", 8, 0, 0),
        ];
        let p = tensor_core_problems(&bad, &TENSOR_CORE_PREFIXES);
        assert_eq!(p.len(), 4, "{p:#?}");
        assert!(p[0].starts_with("no HMMA: conv3d_fwd_bf16_a "), "{}", p[0]);
        assert!(
            p[1].starts_with("local memory (LDL/STL): conv3d_fwd_bf16_b "),
            "{}",
            p[1]
        );
        assert!(p[2].starts_with("register spills: conv3d_fwd_bf16_b "), "{}", p[2]);
        assert_eq!(p[3], "no kernel named conv3d_xbwd_bf16*");
    }

    #[test]
    fn the_report_line_has_the_agreed_fields() {
        assert_eq!(
            report("k", 3, 1, 0).to_string(),
            "k regs=128 spill=0 smem=0 HMMA=3 LDSM=4 LDGSTS=4 LDL=1 STL=0"
        );
    }
}
