//! `oriel serve --config FILE`: a TOML file any `serve` flag can also come from, keyed by the
//! flag's long name (`media-port = 50000`; `media_port` works too).
//!
//! clap reads no files, so the file's values become the flags' defaults before the command
//! line is parsed: a flag given on the command line wins, then its environment variable, then
//! the file, then the built-in default. A key that is no flag is an error, so a typo is not
//! silently ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Parses the process's command line, with the defaults of `--config` (or `ORIEL_CONFIG`)
/// when `serve` has one. Help, version and usage errors end the process as clap does.
pub fn parse() -> anyhow::Result<Cli> {
    parse_from(std::env::args_os()).map_err(|error| match error {
        Error::Clap(error) => error.exit(),
        Error::File(error) => error,
    })
}

enum Error {
    Clap(clap::Error),
    File(anyhow::Error),
}

impl From<clap::Error> for Error {
    fn from(error: clap::Error) -> Self {
        Self::Clap(error)
    }
}

fn parse_from(args: impl IntoIterator<Item = impl Into<OsString>>) -> Result<Cli, Error> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(&args)?;
    let file = match matches.subcommand() {
        Some(("serve", serve)) => serve.get_one::<PathBuf>("config").cloned(),
        _ => None,
    };
    let Some(file) = file else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let command = with_file(Cli::command(), &file).map_err(Error::File)?;
    let matches = command.try_get_matches_from(&args)?;
    Ok(Cli::from_arg_matches(&matches)?)
}

/// `command` with the values of the TOML file at `path` as defaults of `serve`'s flags.
fn with_file(command: Command, path: &Path) -> anyhow::Result<Command> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    with_toml(command, &text).with_context(|| format!("in the config file {}", path.display()))
}

fn with_toml(command: Command, text: &str) -> anyhow::Result<Command> {
    let table: toml::Table = text.parse().context("not valid TOML")?;
    let mut command = command;
    for (key, value) in table {
        let name = key.replace('_', "-");
        let values = values_of(&key, &value)?;
        command = command.try_map_serve(&name, |arg| arg.default_values(values.clone()))?;
    }
    Ok(command)
}

/// The values a TOML value stands for on a command line.
fn values_of(key: &str, value: &toml::Value) -> anyhow::Result<Vec<String>> {
    match value {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Integer(n) => Ok(vec![n.to_string()]),
        toml::Value::Float(n) => Ok(vec![n.to_string()]),
        toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    anyhow::bail!("`{key}`: a list may hold only plain values")
                }
                item => Ok(values_of(key, item)?.remove(0)),
            })
            .collect(),
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            anyhow::bail!("`{key}` must be a string, number, boolean or list")
        }
    }
}

trait MapServe: Sized {
    /// Changes the `serve` flag with the long name `name` (or the global flag of that name).
    fn try_map_serve(
        self,
        name: &str,
        change: impl FnOnce(clap::Arg) -> clap::Arg,
    ) -> anyhow::Result<Self>;
}

impl MapServe for Command {
    fn try_map_serve(
        self,
        name: &str,
        change: impl FnOnce(clap::Arg) -> clap::Arg,
    ) -> anyhow::Result<Self> {
        let id_of = |command: &Command| {
            command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(name) && name != "config")
                .map(|arg| arg.get_id().clone())
        };
        let serve = self
            .find_subcommand("serve")
            .context("no serve subcommand")?;
        if let Some(id) = id_of(serve) {
            return Ok(self.mut_subcommand("serve", |serve| serve.mut_arg(id, change)));
        }
        if let Some(id) = id_of(&self) {
            return Ok(self.mut_arg(id, change));
        }
        let known: Vec<String> = serve
            .get_arguments()
            .chain(self.get_arguments())
            .filter_map(|arg| arg.get_long())
            .filter(|long| !["config", "help", "version"].contains(long))
            .map(str::to_string)
            .collect();
        anyhow::bail!(
            "`{name}` is not a flag of `oriel serve`; known: {}",
            known.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command as Sub;

    fn serve(cli: Cli) -> crate::serve::ServeArgs {
        match cli.command {
            Sub::Serve(args) => *args,
            other => panic!("not serve: {other:?}"),
        }
    }

    fn parse_with(toml: &str, args: &[&str]) -> Cli {
        let command = with_toml(Cli::command(), toml).unwrap();
        let args = std::iter::once("oriel").chain(args.iter().copied());
        Cli::from_arg_matches(&command.try_get_matches_from(args).unwrap()).unwrap()
    }

    #[test]
    fn file_values_replace_defaults_and_flags_replace_file_values() {
        let toml = r#"
            listen = "127.0.0.1:9443"
            media_port = 41000
            header-timeout = 5
            tls-cert = "/etc/oriel/cert.pem"
            tls-key = "/etc/oriel/key.pem"
            log-format = "json"
            media-ip = ["10.0.0.5", "2001:db8::5"]
        "#;
        let cli = parse_with(toml, &["serve", "--media-port", "42000"]);
        assert!(matches!(cli.log_format, crate::logging::LogFormat::Json));
        let args = serve(cli);
        assert_eq!(args.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(args.media_port, 42000, "the flag wins over the file");
        assert_eq!(args.header_timeout, 5);
        assert_eq!(
            args.media_ip,
            [
                "10.0.0.5".parse::<std::net::IpAddr>().unwrap(),
                "2001:db8::5".parse().unwrap()
            ],
            "a list gives several media IPs"
        );
        assert_eq!(args.tls_cert, Some(PathBuf::from("/etc/oriel/cert.pem")));
        assert_eq!(
            args.max_connections.get(),
            4096,
            "the built-in default stays"
        );
    }

    #[test]
    fn unknown_keys_bad_values_and_bad_toml_are_errors() {
        let error = with_toml(Cli::command(), "media-prot = 1").unwrap_err();
        assert!(format!("{error:#}").contains("media-port"), "{error:#}");
        assert!(with_toml(Cli::command(), "config = \"x.toml\"").is_err());
        assert!(with_toml(Cli::command(), "listen = [[1]]").is_err());
        assert!(with_toml(Cli::command(), "listen = ").is_err());
        let command = with_toml(Cli::command(), "media-port = \"many\"").unwrap();
        assert!(command.try_get_matches_from(["oriel", "serve"]).is_err());
    }

    #[test]
    fn a_config_flag_reads_the_file() {
        let dir = std::env::temp_dir().join(format!("oriel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("oriel.toml");
        std::fs::write(&file, "api-rate-limit = 7\n").unwrap();
        let Ok(cli) = parse_from(["oriel", "serve", "--config", file.to_str().unwrap()]) else {
            panic!("did not parse");
        };
        assert_eq!(serve(cli).api_rate_limit.get(), 7);
        std::fs::write(&file, "nonsense = 1\n").unwrap();
        assert!(matches!(
            parse_from(["oriel", "serve", "--config", file.to_str().unwrap()]),
            Err(Error::File(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
