//! sansrtc versus str0m 0.25: the same four workloads on both stacks, in one process
//! and one run, both ends of every connection in memory on this thread, time advanced
//! virtually (issue 8). See README.md.

mod common;
mod measure;
mod sans;
mod strom;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

use common::*;

#[global_allocator]
static ALLOC: measure::Counting = measure::Counting;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Setup,
    Dc,
    Media,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Sansrtc,
    Str0m,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Sansrtc => "sansrtc",
            Stack::Str0m => "str0m",
        }
    }
}

const USAGE: &str = "\
usage: sansrtc-compare [--quick] [--workload setup|dc|media|memory]... [--stack sansrtc|str0m]
                       [--certs generated|reused] [--no-reused-setup] [--repeat N]
                       [--dc-buffer BYTES] [--setup N] [--dc-mib N] [--media N] [--memory N]

  --quick            smaller sizes (20 connections, 16 MiB, 20,000 packets, 100 pairs)
  --workload W       run only W (repeat or comma-separate for several); default all four
  --stack S          run only stack S; default both (ratios need both)
  --certs C          certificates for setup and memory: `generated` (default: each stack
                     makes one per peer, as it does when none is configured) or `reused`
                     (one per side, made once, given to every connection)
  --no-reused-setup  skip the informational second setup row (the other certificate mode)
  --repeat N         run setup, dc and media N times per stack and keep the best run
                     (lowest CPU time for setup, lowest wall time for dc and media)
  --dc-buffer BYTES  dc: give both stacks this data channel send buffer (default: each
                     stack's own, sansrtc 4 MiB `SctpConfig::send_buffer`, str0m 128 KiB
                     `set_sctp_max_buffered_amount`)
  --setup N, --dc-mib N, --media N, --memory N   override a size

Exits non-zero only if a workload did not complete or did not verify; missed targets
are reported, not failed.";

struct Args {
    sizes: Sizes,
    workloads: Vec<Workload>,
    stacks: Vec<Stack>,
    certs: Certs,
    other_setup: bool,
    dc_buffer: Option<usize>,
    repeat: usize,
}

fn parse() -> Result<Args, String> {
    let mut sizes = Sizes::FULL;
    let mut over: Vec<(String, usize)> = Vec::new();
    let mut workloads = Vec::new();
    let mut stacks = Vec::new();
    let mut certs = Certs::PerConnection;
    let mut other_setup = true;
    let mut dc_buffer = None;
    let mut repeat = 1;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => sizes = Sizes::QUICK,
            "--workload" | "-w" => {
                for w in val("--workload")?.split(',') {
                    workloads.push(match w {
                        "setup" => Workload::Setup,
                        "dc" => Workload::Dc,
                        "media" => Workload::Media,
                        "memory" => Workload::Memory,
                        _ => return Err(format!("unknown workload {w}")),
                    });
                }
            }
            "--stack" | "-s" => {
                for s in val("--stack")?.split(',') {
                    stacks.push(match s {
                        "sansrtc" => Stack::Sansrtc,
                        "str0m" => Stack::Str0m,
                        _ => return Err(format!("unknown stack {s}")),
                    });
                }
            }
            "--certs" => {
                certs = match val("--certs")?.as_str() {
                    "generated" => Certs::PerConnection,
                    "reused" => Certs::Reused,
                    c => return Err(format!("unknown certificate mode {c}")),
                }
            }
            "--no-reused-setup" => other_setup = false,
            "--repeat" => {
                let v = val("--repeat")?;
                repeat = v
                    .parse::<usize>()
                    .map_err(|_| format!("--repeat: not a number: {v}"))?
                    .max(1);
            }
            "--dc-buffer" => {
                let v = val("--dc-buffer")?;
                dc_buffer = Some(
                    v.parse()
                        .map_err(|_| format!("--dc-buffer: not a number: {v}"))?,
                );
            }
            "--setup" | "--dc-mib" | "--media" | "--memory" => {
                let v = val(&a)?;
                let n = v.parse().map_err(|_| format!("{a}: not a number: {v}"))?;
                over.push((a, n));
            }
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    for (k, n) in over {
        match k.as_str() {
            "--setup" => sizes.setup_conns = n,
            "--dc-mib" => sizes.dc_bytes = n << 20,
            "--media" => sizes.media_packets = n,
            _ => sizes.memory_pairs = n,
        }
    }
    if workloads.is_empty() {
        workloads = vec![
            Workload::Setup,
            Workload::Dc,
            Workload::Media,
            Workload::Memory,
        ];
    }
    if stacks.is_empty() {
        stacks = vec![Stack::Sansrtc, Stack::Str0m];
    }
    Ok(Args {
        sizes,
        workloads,
        stacks,
        certs,
        other_setup,
        dc_buffer,
        repeat,
    })
}

/// Runs `f`, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )),
    }
}

/// Runs `f` `n` times (at least once) and keeps the best result by `better`; any
/// failure is the result.
fn best_of<T>(
    n: usize,
    mut f: impl FnMut() -> Result<T, String>,
    better: impl Fn(&T, &T) -> bool,
) -> Result<T, String> {
    let mut best = guarded(&mut f)?;
    for _ in 1..n {
        let r = guarded(&mut f)?;
        if better(&r, &best) {
            best = r;
        }
    }
    Ok(best)
}

/// One row of the table: a figure per stack (None: not run), lower or higher better.
struct Row {
    name: String,
    unit: &'static str,
    figures: [Option<Result<f64, String>>; 2],
    /// The target on sansrtc/str0m, and whether it is a lower bound (≥).
    target: Option<(f64, bool)>,
}

fn fmt_fig(f: &Option<Result<f64, String>>) -> String {
    match f {
        None => "-".into(),
        Some(Ok(v)) if *v >= 100.0 => format!("{v:.0}"),
        Some(Ok(v)) if *v >= 10.0 => format!("{v:.1}"),
        Some(Ok(v)) => format!("{v:.3}"),
        Some(Err(_)) => "FAILED".into(),
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    strom::init();
    let s = args.sizes;
    let data = DcData::new();
    let run = |st: Stack| args.stacks.contains(&st);
    let mut rows: Vec<Row> = Vec::new();
    let mut details: Vec<String> = Vec::new();
    let mut failed = false;
    let cert_name = |c: Certs| match c {
        Certs::PerConnection => "certs generated per peer",
        Certs::Reused => "one cert per side, reused",
    };

    println!(
        "sansrtc (this tree) vs str0m 0.25.0 — {} connections, {} MiB, {} packets, {} pairs{}{}",
        s.setup_conns,
        s.dc_bytes >> 20,
        s.media_packets,
        s.memory_pairs,
        if args.repeat > 1 {
            format!(", best of {} runs", args.repeat)
        } else {
            String::new()
        },
        if cfg!(debug_assertions) {
            "  (DEBUG BUILD: use --release)"
        } else {
            ""
        }
    );

    for &w in &args.workloads {
        match w {
            Workload::Setup => {
                let mut modes = vec![args.certs];
                if args.other_setup {
                    modes.push(match args.certs {
                        Certs::PerConnection => Certs::Reused,
                        Certs::Reused => Certs::PerConnection,
                    });
                }
                for (k, &mode) in modes.iter().enumerate() {
                    let mut figs: [Option<Result<f64, String>>; 2] = [None, None];
                    for (i, st) in [Stack::Sansrtc, Stack::Str0m].into_iter().enumerate() {
                        if !run(st) {
                            continue;
                        }
                        eprintln!("setup ({}) on {} ...", cert_name(mode), st.name());
                        let r = best_of(
                            args.repeat,
                            || match st {
                                Stack::Sansrtc => sans::run_setup(s.setup_conns, mode),
                                Stack::Str0m => strom::run_setup(s.setup_conns, mode),
                            },
                            |a, b| a.cpu_s < b.cpu_s,
                        );
                        figs[i] = Some(r.map(|r| {
                            let n = r.conns as f64;
                            details.push(format!(
                                "setup/{:<7} {}: {} connections, CPU {:.3} ms/conn, wall {:.3} ms/conn, {:.0} allocations/conn",
                                st.name(),
                                cert_name(mode),
                                r.conns,
                                r.cpu_s * 1e3 / n,
                                r.wall_s * 1e3 / n,
                                r.allocs as f64 / n
                            ));
                            r.cpu_s * 1e3 / n
                        }));
                    }
                    rows.push(Row {
                        name: if k == 0 {
                            format!("setup ({})", cert_name(mode))
                        } else {
                            format!("  setup, info ({})", cert_name(mode))
                        },
                        unit: "ms CPU/conn",
                        figures: figs,
                        target: (k == 0).then_some((0.5, false)),
                    });
                }
            }
            Workload::Dc => {
                let mut figs: [Option<Result<f64, String>>; 2] = [None, None];
                for (i, st) in [Stack::Sansrtc, Stack::Str0m].into_iter().enumerate() {
                    if !run(st) {
                        continue;
                    }
                    eprintln!("dc on {} ...", st.name());
                    let r = best_of(
                        args.repeat,
                        || match st {
                            Stack::Sansrtc => sans::run_dc(s.dc_bytes, &data, args.dc_buffer),
                            Stack::Str0m => strom::run_dc(s.dc_bytes, &data, args.dc_buffer),
                        },
                        |a, b| a.spent.wall_s < b.spent.wall_s,
                    );
                    figs[i] = Some(r.map(|r| {
                        details.push(format!(
                            "dc/{:<10} {} messages, {} bytes verified; wall {:.3} s, CPU {:.3} s ({:.0} MB/s of CPU), {:.2} allocations/message, {:.1} s virtual",
                            st.name(),
                            r.msgs,
                            r.bytes,
                            r.spent.wall_s,
                            r.spent.cpu_s,
                            r.bytes as f64 / r.spent.cpu_s / 1e6,
                            r.spent.allocs as f64 / r.msgs as f64,
                            r.virtual_s
                        ));
                        r.bytes as f64 / r.spent.wall_s / 1e6
                    }));
                }
                rows.push(Row {
                    name: match args.dc_buffer {
                        None => format!("dc ({} MiB, 16 KiB msgs)", s.dc_bytes >> 20),
                        Some(b) => {
                            format!("dc ({} MiB, 16 KiB msgs, {b} B buffers)", s.dc_bytes >> 20)
                        }
                    },
                    unit: "MB/s",
                    figures: figs,
                    target: Some((10.0, true)),
                });
            }
            Workload::Media => {
                let mut figs: [Option<Result<f64, String>>; 2] = [None, None];
                for (i, st) in [Stack::Sansrtc, Stack::Str0m].into_iter().enumerate() {
                    if !run(st) {
                        continue;
                    }
                    eprintln!("media on {} ...", st.name());
                    let r = best_of(
                        args.repeat,
                        || match st {
                            Stack::Sansrtc => sans::run_media(s.media_packets),
                            Stack::Str0m => strom::run_media(s.media_packets),
                        },
                        |a, b| a.spent.wall_s < b.spent.wall_s,
                    );
                    figs[i] = Some(r.map(|r| {
                        details.push(format!(
                            "media/{:<8} {} packets verified; wall {:.3} s, CPU {:.3} s ({:.0} kpackets/s of CPU), {:.2} allocations/packet, {:.1} s virtual",
                            st.name(),
                            r.packets,
                            r.spent.wall_s,
                            r.spent.cpu_s,
                            r.packets as f64 / r.spent.cpu_s / 1e3,
                            r.spent.allocs as f64 / r.packets as f64,
                            r.virtual_s
                        ));
                        r.packets as f64 / r.spent.wall_s / 1e3
                    }));
                }
                rows.push(Row {
                    name: format!("media ({} RTP pkts)", s.media_packets),
                    unit: "kpackets/s",
                    figures: figs,
                    target: Some((2.0, true)),
                });
            }
            Workload::Memory => {
                let mut figs: [Option<Result<f64, String>>; 2] = [None, None];
                for (i, st) in [Stack::Sansrtc, Stack::Str0m].into_iter().enumerate() {
                    if !run(st) {
                        continue;
                    }
                    eprintln!("memory on {} ...", st.name());
                    let r = guarded(|| match st {
                        Stack::Sansrtc => sans::run_memory(s.memory_pairs, args.certs),
                        Stack::Str0m => strom::run_memory(s.memory_pairs, args.certs),
                    });
                    figs[i] = Some(r.map(|r| {
                        details.push(format!(
                            "memory/{:<7} {} pairs ({}): malloc {:.1} KiB/pair, Rust heap {:.1} KiB/pair, RSS {:.1} KiB/pair (size_of::<Rtc>() {} B); connecting took {:.3} s CPU",
                            st.name(),
                            r.pairs,
                            cert_name(args.certs),
                            r.malloc / 1024.0,
                            r.rust / 1024.0,
                            r.rss / 1024.0,
                            match st {
                                Stack::Sansrtc => std::mem::size_of::<sansrtc::rtc::Rtc>(),
                                Stack::Str0m => std::mem::size_of::<str0m::Rtc>(),
                            },
                            r.connect_cpu_s
                        ));
                        r.malloc / 1024.0
                    }));
                }
                rows.push(Row {
                    name: format!(
                        "memory ({} pairs, {})",
                        s.memory_pairs,
                        cert_name(args.certs)
                    ),
                    unit: "KiB heap/pair",
                    figures: figs,
                    target: Some((0.5, false)),
                });
            }
        }
    }

    // The table.
    println!();
    println!(
        "| {:<48} | {:>13} | {:>10} | {:>10} | {:>7} | {:>6} | {:<6} |",
        "workload", "unit", "sansrtc", "str0m", "ratio", "target", "result"
    );
    println!(
        "|{:-<50}|{:-<15}|{:-<12}|{:-<12}|{:-<9}|{:-<8}|{:-<8}|",
        "", "", "", "", "", "", ""
    );
    for r in &rows {
        let ratio = match (&r.figures[0], &r.figures[1]) {
            (Some(Ok(a)), Some(Ok(b))) if *b > 0.0 => Some(a / b),
            _ => None,
        };
        let (target, result) = match (r.target, ratio) {
            (Some((t, ge)), Some(x)) => (
                format!("{}{t}×", if ge { "≥" } else { "≤" }),
                if (ge && x >= t) || (!ge && x <= t) {
                    "pass"
                } else {
                    "miss"
                },
            ),
            (Some((t, ge)), None) => (format!("{}{t}×", if ge { "≥" } else { "≤" }), "-"),
            (None, _) => ("".into(), ""),
        };
        for f in r.figures.iter().flatten() {
            if f.is_err() {
                failed = true;
            }
        }
        println!(
            "| {:<48} | {:>13} | {:>10} | {:>10} | {:>7} | {:>6} | {:<6} |",
            r.name,
            r.unit,
            fmt_fig(&r.figures[0]),
            fmt_fig(&r.figures[1]),
            ratio.map_or("-".into(), |x| format!("{x:.2}×")),
            target,
            result
        );
    }
    println!();
    println!("ratio = sansrtc / str0m in every row: dc and media are rates (higher is better,");
    println!("target ≥), setup and memory are costs (lower is better, target ≤).");
    println!("MB = 10^6 bytes; dc and media are wall time of the transfer on one thread; setup");
    println!("is thread CPU time until the channel is open on both sides; memory is malloc'd");
    println!("bytes in use (Rust and C) per connected pair.");
    println!();
    for d in &details {
        println!("{d}");
    }
    for r in &rows {
        for (i, f) in r.figures.iter().enumerate() {
            if let Some(Err(e)) = f {
                println!(
                    "FAILED: {} on {}: {e}",
                    r.name,
                    [Stack::Sansrtc, Stack::Str0m][i].name()
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
