use std::path::PathBuf;

use clap::{Parser, Subcommand};
use oriel_store::DatabaseUrl;

use crate::logging::LogFormat;
use crate::serve::ServeArgs;

/// Oriel: a self-hosted real-time video platform that speaks Mux Spaces' API and protocol.
#[derive(Parser, Debug)]
#[command(name = "oriel", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr; RUST_LOG filters what is logged.
    #[arg(
        long,
        global = true,
        env = "ORIEL_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a node: REST API, signaling and health on --listen, media on UDP.
    Serve(Box<ServeArgs>),
    /// Manage API access tokens (HTTP Basic credentials).
    #[command(subcommand)]
    AccessToken(AccessTokenCommand),
    /// Load-test a node: make a signing key and a space through the REST API, join publishers
    /// and subscribers through the real signaling and WebRTC, measure what the subscribers
    /// receive, then delete what was made. Progress on stderr; with --json the last line of
    /// stdout is one JSON object with the results.
    LoadTest(oriel_loadtest::LoadTestArgs),
    /// Manage who may sign in to the dashboard.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a dashboard user (and the environment `development` when there is none). Works
    /// whether or not a server is running on the data directory.
    CreateUser {
        /// Data directory of the node.
        #[arg(long, env = "ORIEL_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// The nodes' PostgreSQL database, when they keep their state there (see `oriel serve
        /// --database-url`); --data-dir is then not used.
        #[arg(
        long,
        env = "ORIEL_DATABASE_URL",
        hide_env_values = true,
        value_parser = crate::database_url::DatabaseUrlParser
    )]
        database_url: Option<DatabaseUrl>,
        /// The email the user signs in with.
        #[arg(long)]
        email: String,
        /// The password, at least 8 characters; only an Argon2id hash of it is stored.
        /// Prefer the environment variable, which does not show in the process list.
        #[arg(long, env = "ORIEL_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccessTokenCommand {
    /// Create an access token, and its environment when missing. Prints one JSON object:
    /// {"id", "secret", "environment": {"id", "name"}}. The secret is shown only here.
    Create {
        /// Data directory of the node (works whether or not a server is running on it).
        #[arg(long, env = "ORIEL_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// The nodes' PostgreSQL database, when they keep their state there (see `oriel serve
        /// --database-url`); --data-dir is then not used.
        #[arg(
        long,
        env = "ORIEL_DATABASE_URL",
        hide_env_values = true,
        value_parser = crate::database_url::DatabaseUrlParser
    )]
        database_url: Option<DatabaseUrl>,
        /// Name of the environment the token belongs to.
        #[arg(long, default_value = "development")]
        environment: String,
        /// A note to recognise the token by later.
        #[arg(long, default_value = "")]
        name: String,
    },
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => crate::serve::serve(*args).await,
        Command::LoadTest(args) => oriel_loadtest::main(args).await,
        Command::Admin(AdminCommand::CreateUser {
            data_dir,
            database_url,
            email,
            password,
        }) => {
            let store = open_store(database_url.as_ref(), &data_dir).await?;
            let created = oriel_api::dashboard::create_user(&*store, &email, &password).await;
            store.close().await;
            let user = created.map_err(|error| {
                anyhow::anyhow!("could not create the dashboard user: {}", error.message())
            })?;
            let output = serde_json::json!({ "id": user.id, "email": user.email });
            println!("{output}");
            Ok(())
        }
        Command::AccessToken(AccessTokenCommand::Create {
            data_dir,
            database_url,
            environment,
            name,
        }) => {
            let environment = environment.trim();
            anyhow::ensure!(
                !environment.is_empty() && environment.chars().count() <= 255,
                "--environment must be a name of 1 to 255 characters"
            );
            let store = open_store(database_url.as_ref(), &data_dir).await?;
            let issued = oriel_api::create_access_token(&*store, environment, &name).await;
            store.close().await;
            let issued = issued
                .map_err(|error| anyhow::anyhow!("could not create the access token: {error:?}"))?;
            let output = serde_json::json!({
                "id": issued.id,
                "secret": issued.secret,
                "environment": { "id": issued.environment.id, "name": issued.environment.name },
            });
            println!("{output}");
            Ok(())
        }
    }
}

/// The store a command writes to: the nodes' PostgreSQL database when given, else the SQLite
/// database under the data directory.
async fn open_store(
    database_url: Option<&DatabaseUrl>,
    data_dir: &std::path::Path,
) -> anyhow::Result<std::sync::Arc<dyn oriel_store::Store>> {
    use anyhow::Context;
    oriel_store::open(database_url, data_dir)
        .await
        .with_context(|| match database_url {
            Some(url) => format!("cannot open the database {url}"),
            None => format!("cannot open the data directory {}", data_dir.display()),
        })
}
