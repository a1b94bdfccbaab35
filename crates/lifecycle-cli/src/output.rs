//! Output for people (aligned tables, colours on a terminal) or machines (`--json`).

use std::cell::RefCell;
use std::io::{BufWriter, IsTerminal, Stdout, Write};

use lifecycle::chrono::{DateTime, SecondsFormat, Utc};
use lifecycle::{ErrorKind, ModelPerformanceMetrics, ModelStatus, ServingSpec, Severity};
use serde::Serialize;

use crate::failure::{Failure, Outcome};

/// Where and how a command reports. Output is buffered (one write for a
/// whole table) except on a terminal and for NDJSON events, and the first
/// failed write is kept: [`Output::finish`] reports it, so a lost output is
/// never a success.
pub struct Output {
    json: bool,
    color: bool,
    terminal: bool,
    stdout: RefCell<BufWriter<Stdout>>,
    failed: RefCell<Option<std::io::Error>>,
}

impl Output {
    /// JSON when asked; colours as the environment says, the way anstream
    /// reads it: on a terminal unless `NO_COLOR` is set (and not empty) or
    /// `TERM=dumb`, and anywhere with `CLICOLOR_FORCE`.
    pub fn new(json: bool) -> Self {
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let choice = anstream::AutoStream::choice(&stdout);
        let color = !json
            && matches!(
                choice,
                anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi
            );
        Self {
            json,
            color,
            terminal,
            stdout: RefCell::new(BufWriter::with_capacity(64 * 1024, std::io::stdout())),
            failed: RefCell::new(None),
        }
    }

    /// Writes out what is buffered; the first write that failed, if any.
    pub fn finish(&self) -> Option<std::io::Error> {
        let flushed = self.stdout.borrow_mut().flush();
        let mut failed = self.failed.borrow_mut();
        if let Err(e) = flushed {
            failed.get_or_insert(e);
        }
        failed.take()
    }

    fn write_line(&self, line: &str, flush: bool) {
        if self.failed.borrow().is_some() {
            return;
        }
        let mut out = self.stdout.borrow_mut();
        let written =
            writeln!(out, "{line}").and_then(|()| if flush { out.flush() } else { Ok(()) });
        if let Err(e) = written {
            *self.failed.borrow_mut() = Some(e);
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// With `--json`, prints `value`; otherwise lets `human` print.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce(&Self)) -> Outcome {
        if self.json {
            self.document(value)
        } else {
            human(self);
            Ok(())
        }
    }

    /// Prints one JSON document (pretty) on stdout.
    pub fn document<T: Serialize>(&self, value: &T) -> Outcome {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Failure::error(format!("cannot encode the output: {e}")))?;
        self.print(&text);
        Ok(())
    }

    /// Prints one JSON object on one line (NDJSON events).
    pub fn event<T: Serialize>(&self, value: &T) -> Outcome {
        let text = serde_json::to_string(value)
            .map_err(|e| Failure::error(format!("cannot encode the output: {e}")))?;
        // Events stream: each reaches a reader as it happens.
        self.write_line(&text, true);
        Ok(())
    }

    /// Prints a line on stdout (at once on a terminal).
    pub fn print(&self, line: &str) {
        self.write_line(line, self.terminal);
    }

    /// Prints a line that must reach a reader at once, terminal or not
    /// (`watch` piped into a log).
    pub fn print_now(&self, line: &str) {
        self.write_line(line, true);
    }

    /// A warning for the person at the terminal, on stderr, whatever the
    /// output format: `lifecycle: warning: ...`.
    pub fn warn(&self, line: &str) {
        let mut stderr = std::io::stderr().lock();
        // A closed stderr leaves nobody to tell.
        let _ = writeln!(stderr, "lifecycle: warning: {line}");
    }

    /// Prints rows under headers, each column as wide as its widest cell.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let header: Vec<String> = headers.iter().map(|h| self.bold(h)).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| visible_len(h)).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(visible_len(cell));
            }
        }
        let mut line = String::new();
        for cells in std::iter::once(&header).chain(rows) {
            line.clear();
            for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                line.push_str(cell);
                if i + 1 < cells.len() {
                    let pad = width - visible_len(cell) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            self.print(line.trim_end());
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    /// A status word, coloured by what it means for traffic.
    pub fn status(&self, status: ModelStatus) -> String {
        let code = match status {
            ModelStatus::Active => "32",
            ModelStatus::Canary => "36",
            ModelStatus::Deprecated => "33",
            ModelStatus::Retired => "2",
            ModelStatus::Inactive | ModelStatus::Testing => "0",
        };
        self.paint(&status.to_string(), code)
    }

    /// A severity word, coloured by urgency.
    pub fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Critical => "31",
            Severity::Error => "31",
            Severity::Warning => "33",
            Severity::Info => "0",
        };
        self.paint(&severity.to_string(), code)
    }

    pub fn good(&self, text: &str) -> String {
        self.paint(text, "32")
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint(text, "31")
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color && code != "0" {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Characters shown, colour codes left out.
fn visible_len(text: &str) -> usize {
    if !text.contains('\x1b') {
        return text.chars().count();
    }
    anstream::adapter::strip_str(text)
        .map(|shown| shown.chars().count())
        .sum()
}

/// A latency for people: whole milliseconds, or `n/a` when there is none.
/// Requests, errors by kind and latencies of a metrics summary, on one
/// line; says how the percentiles were computed and over how many requests.
pub fn figures(m: &ModelPerformanceMetrics) -> String {
    if m.sample_count == 0 {
        return "no requests".into();
    }
    let breakdown = if m.failures_by_kind.is_empty() {
        String::new()
    } else {
        format!(" ({})", ErrorKind::breakdown(&m.failures_by_kind))
    };
    if m.success_count == 0 {
        return format!(
            "{} requests, error rate {:.2} %{breakdown}, no successful request: latency n/a",
            m.sample_count,
            m.error_rate() * 100.0
        );
    }
    format!(
        "{} requests, error rate {:.2} %{breakdown}, latency p50 {}, p95 {}, p99 {} ({} of {} successful)",
        m.sample_count,
        m.error_rate() * 100.0,
        ms(m.p50_latency_ms),
        ms(m.p95_latency_ms),
        ms(m.p99_latency_ms),
        m.latency_quantiles.as_str(),
        m.success_count
    )
}

pub fn ms(latency: Option<f64>) -> String {
    latency.map_or_else(|| "n/a".to_string(), |l| format!("{l:.0} ms"))
}

/// A time as people and machines both read it: `2026-11-26T09:00:00Z`.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What to call, on one line: `openai gpt-4o-2024-08-06 at <endpoint>,
/// parameters {"temperature":0.2}, prompt support-agent@14`.
pub fn serving(provider: &str, spec: &ServingSpec) -> String {
    let mut text = format!(
        "{provider} {}",
        spec.provider_model.as_deref().unwrap_or("(the model id)")
    );
    if let Some(endpoint) = &spec.endpoint {
        text.push_str(&format!(" at {endpoint}"));
    }
    if !spec.parameters.is_empty() {
        let json = serde_json::to_string(&spec.parameters).unwrap_or_default();
        text.push_str(&format!(", parameters {json}"));
    }
    if let Some(prompt) = &spec.prompt {
        text.push_str(&format!(", prompt {}@{}", prompt.name, prompt.version));
    }
    text
}

/// `n` and the noun, plural unless one: `1 model`, `2 models`, `3 metrics
/// checkpoints` (`plural` is the noun's plural form).
pub fn count(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { singular } else { plural })
}
