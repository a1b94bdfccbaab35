//! `docs/benchmarks.md` from a `cargo bench` run: criterion's estimates,
//! the lines benches print, the machine, and the targets the issues set.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// One criterion benchmark: its id and its estimate per iteration (the
/// slope, else the median) with the 95 % interval, in ns.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub id: String,
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// Elements one iteration handles (entries, records), when the bench says.
    pub elements: Option<u64>,
}

/// Reads every `<criterion>/**/new/{benchmark,estimates}.json`.
pub fn read_figures(criterion: &Path) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut dirs = vec![criterion.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                figures.extend(figure(&path));
            } else if path
                .file_name()
                .is_some_and(|n| n != "report" && n != "base")
            {
                dirs.push(path);
            }
        }
    }
    figures.sort_by(|a, b| a.id.cmp(&b.id));
    figures
}

fn figure(new: &Path) -> Option<Figure> {
    let read = |name: &str| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(new.join(name)).ok()?).ok()
    };
    let benchmark = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    // The slope of criterion's linear sampling discounts per-sample setup
    // (threads started, runtimes built); benches sampled flat have none.
    let median = if estimates["slope"].is_object() {
        &estimates["slope"]
    } else {
        &estimates["median"]
    };
    Some(Figure {
        id: benchmark["full_id"].as_str()?.to_string(),
        median: median["point_estimate"].as_f64()?,
        low: median["confidence_interval"]["lower_bound"].as_f64()?,
        high: median["confidence_interval"]["upper_bound"].as_f64()?,
        elements: benchmark["throughput"]["Elements"]
            .as_u64()
            .filter(|n| *n > 1),
    })
}

/// Another figure's median by id.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<f64>;

/// A target an issue set for a figure, and how to judge it.
struct Target {
    id: &'static str,
    text: &'static str,
    /// What holds the figure back when it misses.
    limit: &'static str,
    /// Whether the figure meets it, given every figure (for ratios).
    met: fn(f64, Lookup) -> Option<bool>,
}

const RECORD_1: &str = "record_inference/1 thread";
const PG_COMMIT_1: &str = "postgres_commit/1_task";
const PG_REFERENCE: &str =
    "postgres_commit/pgbench -N transaction, 1 client (the server's own rate)";
/// What bounds a PostgreSQL commit.
const PG_CPU: &str = "the machine's CPU: a 1-task commit keeps about one of the 2 cores busy (client, server and kernel: `cpu per commit` below), so no design passes ~2x here; commits no longer wait on each other's flushes (sealing in batches, docs/storage.md), and pgbench's lighter transaction costs a quarter of the CPU";
const COMMIT_1: &str = "durable_commit/1_task";
const FDATASYNC: &str = "durable_commit/fdatasync_4k (the disk's own rate)";

/// What a command about every model pays on a large catalogue.
const WHOLE_CATALOGUE: &str = "the command reads every version without loading any (no evaluator, no router): what is left is one pass over the store — decoding every model record (JSON, ~25 k instructions each, on every core) and every metrics checkpoint — and sled paging the store in after a cold open (~24 MiB at 5,000 models); a binary record encoding, or a per-model summary kept beside each record, would be the next step";

/// What a command about one model (or none) pays on a large catalogue.
const OPEN: &str = "commands read only the model they name (`Loading::OnFirstUse`); what is left grows with the store's size on disk: sled's open (its recovery reads every segment) and its first page-ins";

const TARGETS: &[Target] = &[
    Target {
        id: "catalogue/list (5000 models)",
        limit: WHOLE_CATALOGUE,
        text: "≤ 50 ms and within 3x of 1 model",
        met: |ns, get| Some(ns <= 5e7 && ns <= 3.0 * get("catalogue/list (1 models)")?),
    },
    Target {
        id: "catalogue/show (5000 models)",
        limit: OPEN,
        text: "≤ 50 ms and within 3x of 1 model",
        met: |ns, get| Some(ns <= 5e7 && ns <= 3.0 * get("catalogue/show (1 models)")?),
    },
    Target {
        id: "catalogue/route (5000 models)",
        limit: OPEN,
        text: "≤ 50 ms and within 3x of 1 model",
        met: |ns, get| Some(ns <= 5e7 && ns <= 3.0 * get("catalogue/route (1 models)")?),
    },
    Target {
        id: "catalogue/status (5000 models)",
        limit: WHOLE_CATALOGUE,
        text: "≤ 50 ms and within 3x of 1 model",
        met: |ns, get| Some(ns <= 5e7 && ns <= 3.0 * get("catalogue/status (1 models)")?),
    },
    Target {
        id: "catalogue/audit recent (5000 models)",
        limit: OPEN,
        text: "≤ 50 ms and within 3x of 1 model",
        met: |ns, get| Some(ns <= 5e7 && ns <= 3.0 * get("catalogue/audit recent (1 models)")?),
    },
    Target {
        id: "catalogue/show (50000 models)",
        limit: OPEN,
        text: "≤ 300 ms",
        met: |ns, _| Some(ns <= 3e8),
    },
    Target {
        id: "catalogue import/import litellm (5000 entries, new store)",
        limit: "one durable commit per model, 64 in flight sharing flushes",
        text: "≤ 1 s",
        met: |ns, _| Some(ns <= 1e9),
    },
    Target {
        id: "catalogue import/import litellm (5000 entries, new PostgreSQL database)",
        limit: "one commit per model (the schema's creation included), 64 in flight over the pool's 8 connections, each a few trips to the server",
        text: "≤ 3 s",
        met: |ns, _| Some(ns <= 3e9),
    },
    Target {
        id: "catalogue/status (5000 models, PostgreSQL)",
        limit: "the process's start, the connection and migrations check, and reading every model and checkpoint: the open and full resync of a new process",
        text: "≤ 500 ms (open and full resync)",
        met: |ns, _| Some(ns <= 5e8),
    },
    Target {
        id: "postgres_1m_entries/latest_100_of_one_model",
        limit: "one index range scan and 100 rows decoded",
        text: "≤ 5 ms",
        met: |ns, _| Some(ns <= 5e6),
    },
    Target {
        id: "compare (two full windows, 4 threads each)",
        limit: "sorting both pooled samples and a bisection per order statistic",
        text: "≤ 10 ms",
        met: |ns, _| Some(ns <= 1e7),
    },
    Target {
        id: "status_1m_entries/get_system_status (one entry added since the last call)",
        limit: "re-reading the entry last checked and hashing the new ones",
        text: "≤ 10 ms",
        met: |ns, _| Some(ns <= 1e7),
    },
    Target {
        id: RECORD_1,
        limit: "a mutex and a sketch insert per call on a shared 2-vCPU machine; run-to-run noise is ±10 % (docs/evaluator.md)",
        text: "≤ 100 ns",
        met: |ns, _| Some(ns <= 100.0),
    },
    Target {
        id: "record_inference/2 threads, 2 models",
        limit: "two shared virtual cores: the second thread competes with the first for the same physical core",
        text: "≥ 1.7x the 1-thread rate",
        met: |ns, get| Some(get(RECORD_1)? / ns >= 1.7),
    },
    Target {
        id: "record_inference/2 threads, same version",
        limit: "per-thread shards: contention only when two threads map to one shard",
        text: "no worse than 1 thread",
        met: |ns, get| Some(ns <= get(RECORD_1)?),
    },
    Target {
        id: "route (100 models, 5 % canary)",
        limit: "one hash and two atomic loads per call",
        text: "≤ 50 ns",
        met: |ns, _| Some(ns <= 50.0),
    },
    Target {
        id: COMMIT_1,
        limit: "two trips to the device per commit: sled's own sync_file_range, then the fdatasync durability needs, plus ~55 µs of CPU; sled 0.34 cannot skip its sync (docs/storage.md)",
        text: "within 2x of fdatasync",
        met: |ns, get| Some(ns <= 2.0 * get(FDATASYNC)?),
    },
    Target {
        id: "durable_commit/16_tasks_different_models (time per commit)",
        limit: "group commit shares one flush among the commits waiting for it; two cores bound the CPU half of each commit",
        text: "≥ 3x the 1-task rate",
        met: |ns, get| Some(get(COMMIT_1)? / ns >= 3.0),
    },
    Target {
        id: PG_COMMIT_1,
        limit: "five trips to the server (the move's read; BEGIN with the model's lock; the model's read with the chain head's lock; one statement writing records, sealed entries, head and NOTIFY; COMMIT) as pgbench's five, but heavier rows (JSON records, four audit indexes, the deferred one-active constraint): about 4x pgbench's CPU per transaction (`cpu per commit` below)",
        text: "≥ 0.5x the rate of pgbench -N, 1 client",
        met: |ns, get| Some(get(PG_REFERENCE)? / ns >= 0.5),
    },
    Target {
        id: "postgres_commit/16_tasks_4_stores (time per commit)",
        limit: PG_CPU,
        text: "≥ 3x the 1-task rate",
        met: |ns, get| Some(get(PG_COMMIT_1)? / ns >= 3.0),
    },
    Target {
        id: "store_1m_entries/latest_100_of_one_model",
        limit: "one index range scan and 100 point reads",
        text: "< 1 ms",
        met: |ns, _| Some(ns < 1e6),
    },
    Target {
        id: "store_1m_entries/open",
        limit: "sled recovery reads its segment headers",
        text: "< 200 ms",
        met: |ns, _| Some(ns < 2e8),
    },
];

/// The memory bench's lines: `memory per tracked version after N samples: B bytes ...`.
/// Target: under 256 KiB after 100 M samples, and the same as after 1,000.
fn memory_miss(printed: &[String]) -> Option<String> {
    let parse = |line: &String| -> Option<(u64, u64)> {
        let rest = line.strip_prefix("memory per tracked version after")?;
        let (samples, rest) = rest.split_once("samples:")?;
        let bytes = rest.split_whitespace().next()?;
        Some((samples.trim().parse().ok()?, bytes.parse().ok()?))
    };
    let points: Vec<(u64, u64)> = printed.iter().filter_map(parse).collect();
    let (first, last) = (points.first()?, points.last()?);
    if last.1 < 256 * 1024 && last.1 == first.1 {
        return None;
    }
    Some(format!(
        "memory per tracked version: {} bytes after {} samples, {} after {}, against \
         under 256 KiB and the same as after 1,000. What limits it: the first window's ten \
         sub-windows and their request samples fill over its first ten minutes, and the sketches' \
         bins grow with the range of latencies seen; after that it stays flat (docs/evaluator.md).",
        first.1, first.0, last.1, last.0
    ))
}

/// A duration for people: ns, µs, ms or s with three significant digits.
fn duration(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

/// Iterations per second, or elements per second for throughput benches.
fn rate(ns: f64, elements: Option<u64>) -> String {
    let per_second = 1e9 / ns * elements.unwrap_or(1) as f64;
    if per_second >= 1e6 {
        format!("{:.1} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.1}/s")
    }
}

/// The machine: cores and CPU model.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}

/// The report: missed targets first, then every figure, then what benches printed.
pub fn render(figures: &[Figure], printed: &[String], machine: &str, date: &str) -> String {
    let get = |id: &str| figures.iter().find(|f| f.id == id).map(|f| f.median);
    let mut rows = String::new();
    let mut missed = Vec::new();
    for f in figures {
        let target = TARGETS.iter().find(|t| t.id == f.id);
        let verdict = match target.map(|t| (t.text, (t.met)(f.median, &get))) {
            Some((text, Some(true))) => format!("{text}: met"),
            Some((text, Some(false))) => {
                let limit = target.map_or("", |t| t.limit);
                missed.push(format!(
                    "`{}`: {} against {text}. What limits it: {limit}.",
                    f.id,
                    duration(f.median)
                ));
                format!("{text}: **missed**")
            }
            Some((text, None)) => format!("{text}: not judged (a figure it needs is missing)"),
            None => "—".into(),
        };
        let _ = writeln!(
            rows,
            "| {} | {} | {}–{} | {} | {verdict} |",
            f.id,
            duration(f.median),
            duration(f.low),
            duration(f.high),
            rate(f.median, f.elements)
        );
    }
    missed.extend(memory_miss(printed));
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench` on {date}: {machine}; disk: write 4 KiB + `fdatasync` {} in the same run.\n",
        get(FDATASYNC).map_or_else(|| "not measured".into(), |ns| format!("{} ({})", duration(ns), rate(ns, None)))
    );
    let _ = writeln!(out, "## Targets missed\n");
    if missed.is_empty() {
        let _ = writeln!(out, "None.\n");
    }
    for m in &missed {
        let _ = writeln!(out, "- {m}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Every figure\n");
    let _ = writeln!(
        out,
        "Criterion's estimate per iteration — the slope of its linear sampling, which discounts per-sample setup such as starting threads, or the median where a bench is sampled flat — with its 95 % confidence interval; the rate is iterations per second, or entries per second where an iteration handles many.\n"
    );
    let _ = writeln!(
        out,
        "| benchmark | estimate | 95 % interval | rate | target |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    out.push_str(&rows);
    let _ = writeln!(out, "\n## Printed by the benches\n");
    let _ = writeln!(out, "Memory (target: under 256 KiB per tracked version, the same after 100 M samples as after 1,000), size on disk, export memory, backup size:\n");
    for line in printed {
        let _ = writeln!(out, "- {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(id: &str, ns: f64) -> Figure {
        Figure {
            id: id.into(),
            median: ns,
            low: ns * 0.9,
            high: ns * 1.1,
            elements: None,
        }
    }

    #[test]
    fn targets_are_judged_and_misses_listed_first() {
        let figures = [
            figure(RECORD_1, 120.0),
            figure("record_inference/2 threads, 2 models", 50.0),
            figure(FDATASYNC, 100_000.0),
            figure(COMMIT_1, 300_000.0),
            figure("backup/create", 2e9),
        ];
        let report = render(
            &figures,
            &["on disk: 1 byte".into()],
            "2 cores, test CPU",
            "today",
        );
        let missed = report.split("## Every figure").next().unwrap();
        assert!(
            missed.contains("`record_inference/1 thread`: 120 ns against ≤ 100 ns"),
            "{report}"
        );
        assert!(missed.contains("`durable_commit/1_task`"), "{report}");
        assert!(
            !missed.contains("2 threads, 2 models"),
            "2.4x meets 1.7x: {report}"
        );
        assert!(
            report.contains("| backup/create | 2.00 s | 1.80 s–2.20 s | 0.5/s | — |"),
            "{report}"
        );
        assert!(
            report.contains("disk: write 4 KiB + `fdatasync` 100 µs (10.0 k/s)"),
            "{report}"
        );
        assert!(report.contains("- on disk: 1 byte"));
    }

    #[test]
    fn memory_that_grows_after_1000_samples_is_a_miss() {
        let line = |n: u64, b: u64| {
            format!("memory per tracked version after {n:>11} samples: {b:>7} bytes (x KiB)")
        };
        let flat = [line(1_000, 16_000), line(100_000_000, 16_000)];
        assert_eq!(memory_miss(&flat), None);
        let grown = [line(1_000, 16_000), line(100_000_000, 85_000)];
        let miss = memory_miss(&grown).unwrap();
        assert!(miss.contains("85000 after 100000000"), "{miss}");
    }
}
