//! A throwaway PostgreSQL cluster for the tests: `initdb` into the target
//! directory, started on a free port and a private socket, stopped and
//! removed when the run ends. `LIFECYCLE_TEST_DATABASE_URL`, when set,
//! names a server to use instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The variable the PostgreSQL tests read.
pub const URL_VAR: &str = "LIFECYCLE_TEST_DATABASE_URL";

/// The variable naming the certificate authority the cluster's TLS
/// certificate was signed by (set when the cluster has TLS).
pub const TLS_ROOT_VAR: &str = "LIFECYCLE_TEST_PG_TLS_ROOT";

/// The role the cluster admits over TLS only.
const TLS_ROLE: &str = "lifecycle_tls";

/// A running cluster, stopped and removed on drop.
pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    as_postgres: bool,
    port: u16,
}

/// Makes a server available to the tests: the one `LIFECYCLE_TEST_DATABASE_URL`
/// names, or a cluster started here (returned, to stop later). Without one,
/// the PostgreSQL tests skip, saying so — or, under `CI=true`, this fails.
pub fn provide() -> Result<Option<Cluster>, String> {
    if std::env::var(URL_VAR).is_ok_and(|url| !url.trim().is_empty()) {
        println!("xtask: PostgreSQL tests on {URL_VAR}");
        return Ok(None);
    }
    let Some(bin) = find_bin() else {
        let advice =
            "PostgreSQL's initdb and pg_ctl were not found (Debian: apt install postgresql-15; \
                      or set LIFECYCLE_TEST_DATABASE_URL)";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            return Err(format!("CI=true needs PostgreSQL: {advice}"));
        }
        println!("xtask: SKIPPING the PostgreSQL tests: {advice}");
        return Ok(None);
    };
    let cluster = Cluster::start(bin)?;
    Ok(Some(cluster))
}

/// Debian keeps the server's programs off the PATH, in its versioned directory.
fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .collect();
    // The newest version first.
    candidates.sort_by_key(|dir| std::cmp::Reverse(version_of(dir)));
    if let Some(found) = candidates.into_iter().find(|d| d.join("initdb").exists()) {
        return Some(found);
    }
    let on_path = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&on_path.stdout).trim());
    dir.join("initdb").exists().then_some(dir)
}

fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str()?.parse().ok())
        .unwrap_or(0)
}

impl Cluster {
    fn start(bin: PathBuf) -> Result<Self, String> {
        let root = crate::workspace_root()
            .join("target")
            .join("postgres-test")
            .join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        // initdb refuses to run as root: the cluster belongs to `postgres`.
        let as_postgres = is_root();
        let mut cluster = Self {
            bin,
            root,
            as_postgres,
            port: 0,
        };
        if as_postgres {
            cluster.run("chown", &["-R", "postgres", &cluster.path("")], false)?;
        }
        let data = cluster.path("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            true,
        )?;
        let tls = match cluster.enable_tls() {
            Ok(()) => format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cluster.path("server.crt"),
                cluster.path("server.key")
            ),
            Err(e) => {
                println!(
                    "xtask: the PostgreSQL cluster runs without TLS (the TLS test skips): {e}"
                );
                String::new()
            }
        };
        let port = free_port()?;
        cluster.port = port;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300{tls}",
            cluster.path("")
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &cluster.path("log"),
                "-o",
                &options,
                "-w",
                "start",
            ],
            true,
        )?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        println!("xtask: started a throwaway PostgreSQL cluster at {url}");
        if !tls.is_empty() {
            let connect = ["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"];
            let create = [
                "-q",
                "-d",
                "postgres",
                "-c",
                &format!("CREATE ROLE {TLS_ROLE} LOGIN SUPERUSER"),
            ];
            cluster.run("psql", &[&connect[..], &create[..]].concat(), true)?;
            std::env::set_var(TLS_ROOT_VAR, cluster.path("ca.crt"));
        }
        std::env::set_var(URL_VAR, &url);
        // For the restart test: how to restart this cluster as a crash would.
        std::env::set_var("LIFECYCLE_TEST_PG_CTL", cluster.bin.join("pg_ctl"));
        std::env::set_var("LIFECYCLE_TEST_PG_DATA", &data);
        if as_postgres {
            std::env::set_var("LIFECYCLE_TEST_PG_USER", "postgres");
        }
        Ok(cluster)
    }

    /// A certificate authority and a server certificate it signed (for
    /// 127.0.0.1 and localhost), and `pg_hba.conf` lines that admit
    /// [`TLS_ROLE`] over TLS only: what the TLS test connects as.
    fn enable_tls(&self) -> Result<(), String> {
        let (ca_key, ca) = (self.path("ca.key"), self.path("ca.crt"));
        let (key, csr, crt) = (
            self.path("server.key"),
            self.path("server.csr"),
            self.path("server.crt"),
        );
        let extensions = self.path("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| format!("cannot write {extensions}: {e}"))?;
        let days = ["-days", "7"];
        self.run(
            "openssl",
            &[
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &ca_key,
                    "-out",
                    &ca,
                    "-subj",
                    "/CN=lifecycle-test-ca",
                ][..],
                &days[..],
            ]
            .concat(),
            false,
        )?;
        self.run(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=localhost",
            ],
            false,
        )?;
        self.run(
            "openssl",
            &[
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca,
                    "-CAkey",
                    &ca_key,
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-extfile",
                    &extensions,
                ][..],
                &days[..],
            ]
            .concat(),
            false,
        )?;
        self.run("chmod", &["600", &key], false)?;
        if self.as_postgres {
            self.run("chown", &["postgres", &key, &crt], false)?;
        }
        let hba = self.root.join("data").join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba)
            .map_err(|e| format!("cannot read {}: {e}", hba.display()))?;
        let tls_only = format!(
            "hostssl all {TLS_ROLE} 127.0.0.1/32 trust\nhostnossl all {TLS_ROLE} 127.0.0.1/32 reject\n"
        );
        std::fs::write(&hba, tls_only + &rules)
            .map_err(|e| format!("cannot write {}: {e}", hba.display()))
    }

    /// pgbench's `-N` rate (transactions per second) with `clients`
    /// clients for a few seconds, on a database of its own: the server's
    /// reference for the store's commit benches.
    pub fn pgbench(&self, clients: u32) -> Result<f64, String> {
        let port = self.port.to_string();
        let connect = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        let create = [
            "-c",
            "DROP DATABASE IF EXISTS pgbench",
            "-c",
            "CREATE DATABASE pgbench",
        ];
        self.run(
            "psql",
            &[&connect[..], &["-q", "-d", "postgres"], &create[..]].concat(),
            true,
        )?;
        self.run(
            "pgbench",
            &[&connect[..], &["-q", "-i", "-s", "1", "pgbench"]].concat(),
            true,
        )?;
        let clients = clients.to_string();
        let jobs = if clients == "1" { "1" } else { "2" };
        let run = [
            &connect[..],
            &["-N", "-c", &clients, "-j", jobs, "-T", "5", "pgbench"],
        ]
        .concat();
        let out = self.output("pgbench", &run)?;
        out.lines()
            .find_map(|line| {
                line.strip_prefix("tps = ")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .ok_or_else(|| format!("pgbench printed no rate: {out}"))
    }

    fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// A server program's standard output.
    fn output(&self, program: &str, args: &[&str]) -> Result<String, String> {
        self.execute(program, args, true)
    }

    /// Runs a server program (`bin` true) or a system one.
    fn run(&self, program: &str, args: &[&str], bin: bool) -> Result<(), String> {
        self.execute(program, args, bin).map(drop)
    }

    /// Runs a program, a server one as `postgres` when this process is
    /// root; its standard output, or what went wrong.
    fn execute(&self, program: &str, args: &[&str], bin: bool) -> Result<String, String> {
        let program = if bin {
            self.bin.join(program).display().to_string()
        } else {
            program.to_string()
        };
        let mut command = if self.as_postgres && bin {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(format!(
            "{program} {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.path("data");
        if let Err(e) = self.run(
            "pg_ctl",
            &["-D", &data, "-m", "immediate", "-w", "stop"],
            true,
        ) {
            eprintln!("xtask: stopping the PostgreSQL cluster: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}
