//! The file backend: a directory shared by the clusters (a mounted volume, or one machine's
//! disk in the demo), one `<cluster>.yaml` per cluster, each replaced atomically by rename.

use std::path::{Path, PathBuf};

use super::{Broker, BrokerError, ClusterProfile};

pub struct FileBroker {
    dir: PathBuf,
    cluster: String,
}

impl FileBroker {
    pub fn new(dir: impl Into<PathBuf>, cluster: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            cluster: cluster.into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Broker for FileBroker {
    async fn publish(&self, profile: &ClusterProfile) -> Result<(), BrokerError> {
        let text = serde_yaml_ng::to_string(profile).map_err(|e| BrokerError::Invalid {
            path: self.dir.clone(),
            message: e.to_string(),
        })?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        let path = self.dir.join(format!("{}.yaml", self.cluster));
        // Readers must never see half a file: write aside, then rename over.
        let staging = self.dir.join(format!(".{}.yaml.tmp", self.cluster));
        tokio::fs::write(&staging, text)
            .await
            .map_err(io(&staging))?;
        tokio::fs::rename(&staging, &path)
            .await
            .map_err(io(&path))?;
        Ok(())
    }

    async fn fetch(&self) -> Result<(Vec<ClusterProfile>, Vec<BrokerError>), BrokerError> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(io(&self.dir))?;
        let mut profiles = Vec::new();
        let mut errors = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io(&self.dir))? {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.')
                || !name.ends_with(".yaml")
                || name == format!("{}.yaml", self.cluster)
            {
                continue;
            }
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                Err(source) => {
                    errors.push(BrokerError::Io { path, source });
                    continue;
                }
            };
            match serde_yaml_ng::from_str::<ClusterProfile>(&text) {
                Ok(profile) => profiles.push(profile),
                Err(e) => errors.push(BrokerError::Invalid {
                    path,
                    message: e.to_string(),
                }),
            }
        }
        profiles.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        Ok((profiles, errors))
    }
}
