//! Built-in syscall scenarios that show what each persistence model lets a crash leave behind:
//! the classic ways to replace or create a file, with and without the fsyncs that make them safe.

use std::fmt;
use std::str::FromStr;

use crashsim_sim::{Fs, FsResult, Image, Node, OpenOptions, SimFs, SimOptions};

/// A scenario: a starting image and a short script of syscalls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Write `reg.tmp`, rename it over `reg.json`; no fsync at all.
    Replace,
    /// The same with fsync of the temp file and of the directory: the safe protocol.
    ReplaceSynced,
    /// Create `new.jsonl` and fsync it, but never fsync the directory.
    CreateSynced,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Replace, Scenario::ReplaceSynced, Scenario::CreateSynced];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Replace => "replace",
            Scenario::ReplaceSynced => "replace-synced",
            Scenario::CreateSynced => "create-synced",
        }
    }

    /// The image the scenario starts from: a sessions dir with a durable registry.
    pub fn initial(self) -> Image {
        Image::from_nodes([
            ("s".to_string(), Node::Dir),
            ("s/reg.json".to_string(), Node::File(std::sync::Arc::new(b"{\"v\":1}".to_vec()))),
        ])
    }

    /// Runs the scenario on a fresh SimFs and returns it, trace and log recorded.
    pub fn run(self) -> FsResult<SimFs> {
        let fs = SimFs::from_image(&self.initial(), SimOptions::default());
        pollster::block_on(self.script(&fs))?;
        Ok(fs)
    }

    async fn script(self, fs: &SimFs) -> FsResult<()> {
        match self {
            Scenario::Replace | Scenario::ReplaceSynced => {
                let synced = self == Scenario::ReplaceSynced;
                let fd = fs.open("s/reg.tmp", OpenOptions::create_trunc()).await?;
                fs.write(fd, b"{\"v\":2}").await?;
                if synced {
                    fs.fsync(fd).await?;
                }
                fs.close(fd).await?;
                fs.rename("s/reg.tmp", "s/reg.json").await?;
                if synced {
                    let dir = fs.open("s", OpenOptions::dir()).await?;
                    fs.fsync(dir).await?;
                    fs.close(dir).await?;
                }
            }
            Scenario::CreateSynced => {
                let fd = fs.open("s/new.jsonl", OpenOptions::create_new()).await?;
                fs.write(fd, b"{\"type\":\"session\"}\n").await?;
                fs.fsync(fd).await?;
                fs.close(fd).await?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|x| x.name()).collect();
            format!("unknown scenario {s:?}: expected one of {}", names.join(", "))
        })
    }
}
