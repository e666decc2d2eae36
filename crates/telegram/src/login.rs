//! The Telegram login as a state machine, for `tg-admin login` (prompts on a terminal) and the
//! admin panel (asks in a web page): `start` → code → (2FA password) → done. Both backends: the
//! fixture (its `login` section says which code and password it expects) and grammers. Either
//! way the session ends up in the same file ([`crate::session_path`]), owner-only.

use std::path::{Path, PathBuf};

use crate::error::TelegramError;
use crate::fixture::FixtureBackend;
use crate::grammers::{GrammersLogin, GrammersSettings, GrammersStep};
use crate::types::TgUser;

/// Where a login stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginStep {
    /// Not authorised and no phone number is configured (`TELEGRAM_PHONE`): call
    /// [`LoginFlow::start`] again with one.
    NeedPhone,
    /// Telegram sent a login code: [`LoginFlow::submit_code`].
    NeedCode,
    /// The account has two-step verification: [`LoginFlow::submit_password`]. `hint` is the
    /// hint the owner set, if any.
    NeedPassword { hint: Option<String> },
    /// Logged in (or already was); the session file is written.
    Done(TgUser),
}

enum Backend {
    Fixture(Box<FixtureBackend>),
    Grammers(Box<GrammersLogin>),
}

/// One login attempt. Wrong codes and passwords are errors (`BadCode`, `BadPassword`) that leave
/// the flow where it was, so the caller can ask again; FLOOD_WAIT comes back as `FloodWait`.
pub struct LoginFlow {
    backend: Backend,
    session: PathBuf,
    step: LoginStep,
}

impl LoginFlow {
    /// The account the environment selects, like [`crate::open_from_env`]: the fixture named by
    /// `TELEGRAM_FIXTURE`, else the real account (`TELEGRAM_API_ID`, `TELEGRAM_API_HASH`,
    /// optional `TELEGRAM_PHONE`). The session file is [`crate::session_path`] either way.
    pub fn from_env() -> Result<Self, TelegramError> {
        match std::env::var_os(crate::ENV_FIXTURE) {
            Some(path) if !path.is_empty() => {
                Self::fixture(path.into(), crate::session_path::session_path_logged()?)
            }
            _ => Self::grammers(GrammersSettings::from_env()?),
        }
    }

    /// A login to a fixture account; the session is written to `session`.
    pub fn fixture(fixture: PathBuf, session: PathBuf) -> Result<Self, TelegramError> {
        Ok(Self {
            backend: Backend::Fixture(Box::new(FixtureBackend::open_unauthorised(fixture)?)),
            session,
            step: LoginStep::NeedPhone,
        })
    }

    /// A login to the real account with these settings (session at `settings.session_path`).
    pub fn grammers(settings: GrammersSettings) -> Result<Self, TelegramError> {
        let session = settings.session_path.clone();
        Ok(Self {
            backend: Backend::Grammers(Box::new(GrammersLogin::open(settings)?)),
            session,
            step: LoginStep::NeedPhone,
        })
    }

    /// The session file the login writes (the one every tool reads).
    pub fn session_path(&self) -> &Path {
        &self.session
    }

    /// Where the flow stands.
    pub fn step(&self) -> &LoginStep {
        &self.step
    }

    /// The account when the session is already authorised, without asking for a code (the
    /// panel shows "log in" only when this is `None`).
    pub async fn authorised(&mut self) -> Result<Option<TgUser>, TelegramError> {
        match &mut self.backend {
            Backend::Fixture(f) => {
                if f.needs_login(&self.session)? {
                    Ok(None)
                } else {
                    Ok(Some(crate::api::TelegramApi::me(f.as_ref()).await?))
                }
            }
            Backend::Grammers(g) => g.authorised_user().await,
        }
    }

    /// `Done` when the session is already authorised; else asks Telegram for a login code
    /// (`NeedCode`), with `phone` or the configured one (`NeedPhone` when there is neither).
    pub async fn start(&mut self, phone: Option<&str>) -> Result<LoginStep, TelegramError> {
        let authorised = self.authorised().await?;
        let step = match (&mut self.backend, authorised) {
            (_, Some(me)) => LoginStep::Done(me),
            (Backend::Fixture(_), None) => LoginStep::NeedCode,
            (Backend::Grammers(g), None) => {
                let phone = phone
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .or_else(|| g.configured_phone().map(str::to_owned));
                match phone {
                    Some(phone) => {
                        g.request_code(&phone).await?;
                        LoginStep::NeedCode
                    }
                    None => LoginStep::NeedPhone,
                }
            }
        };
        Ok(self.advance(step))
    }

    /// The code Telegram sent: `Done`, or `NeedPassword` when the account has 2FA.
    pub async fn submit_code(&mut self, code: &str) -> Result<LoginStep, TelegramError> {
        if self.step != LoginStep::NeedCode {
            return Err(TelegramError::LoginOrder(
                "a code was given but none was asked for".into(),
            ));
        }
        let step = match &mut self.backend {
            Backend::Fixture(f) => {
                let checked = f.check_code(code);
                match checked {
                    Ok(Some(hint)) => LoginStep::NeedPassword { hint },
                    Ok(None) => LoginStep::Done(f.save_session(&self.session)?),
                    Err(e) => {
                        f.save_changes()?;
                        return Err(e);
                    }
                }
            }
            Backend::Grammers(g) => match g.submit_code(code).await? {
                GrammersStep::Done(me) => LoginStep::Done(me),
                GrammersStep::NeedPassword(hint) => LoginStep::NeedPassword { hint },
            },
        };
        Ok(self.advance(step))
    }

    /// The two-step verification password: `Done`.
    pub async fn submit_password(&mut self, password: &str) -> Result<LoginStep, TelegramError> {
        if !matches!(self.step, LoginStep::NeedPassword { .. }) {
            return Err(TelegramError::LoginOrder(
                "a password was given but none was asked for".into(),
            ));
        }
        let me = match &mut self.backend {
            Backend::Fixture(f) => match f.check_password(password) {
                Ok(()) => f.save_session(&self.session)?,
                Err(e) => {
                    f.save_changes()?;
                    return Err(e);
                }
            },
            Backend::Grammers(g) => g.submit_password(password).await?,
        };
        Ok(self.advance(LoginStep::Done(me)))
    }

    fn advance(&mut self, step: LoginStep) -> LoginStep {
        self.step = step.clone();
        step
    }
}

/// The panel keeps a flow between requests and awaits its steps in handlers: checked here at
/// compile time, since a non-`Send` step would only show up in that crate.
#[cfg(test)]
#[allow(dead_code)]
fn flow_and_its_steps_are_send(flow: &mut LoginFlow) {
    fn send<T: Send>(_: T) {}
    send(flow.start(None));
    send(flow.submit_code(""));
    send(flow.submit_password(""));
}

#[cfg(test)]
const _: fn() = || {
    fn send<T: Send + 'static>() {}
    send::<LoginFlow>();
};
