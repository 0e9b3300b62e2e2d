//! `--database-url` on the command line: parsed into a [`DatabaseUrl`], and refused without
//! echoing the value, since a URL carries the database's password (clap's own message for an
//! invalid value quotes it).

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use oriel_store::DatabaseUrl;

#[derive(Clone, Copy, Debug)]
pub struct DatabaseUrlParser;

impl TypedValueParser for DatabaseUrlParser {
    type Value = DatabaseUrl;

    fn parse_ref(
        &self,
        command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<DatabaseUrl, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                ErrorKind::InvalidValue,
                format!("invalid value for --database-url: {message}\n"),
            )
            .with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("it is not UTF-8".to_owned()))?;
        text.parse().map_err(refuse)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Args {
        #[arg(long, value_parser = DatabaseUrlParser)]
        database_url: Option<DatabaseUrl>,
    }

    #[test]
    fn a_refused_url_is_not_echoed() {
        let error = Args::try_parse_from(["x", "--database-url", "mysql://u:s3cret@h/db"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a PostgreSQL URL"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        let args =
            Args::try_parse_from(["x", "--database-url", "postgres://u:s3cret@h/db"]).unwrap();
        assert_eq!(
            args.database_url.unwrap().expose(),
            "postgres://u:s3cret@h/db"
        );
    }
}
