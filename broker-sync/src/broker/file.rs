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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{ExportCapacity, ExportReport};

    fn profile(cluster: &str) -> ClusterProfile {
        ClusterProfile {
            cluster: cluster.into(),
            provider: Some("aws".into()),
            region: Some("us-east-1".into()),
            zone: None,
            prices: None,
            exports: Vec::new(),
        }
    }

    #[tokio::test]
    async fn each_cluster_reads_the_others_and_skips_what_it_cannot_parse() {
        let dir = tempfile::tempdir().unwrap();
        let east = FileBroker::new(dir.path(), "east");
        let west = FileBroker::new(dir.path(), "west");
        east.publish(&profile("east")).await.unwrap();
        west.publish(&profile("west")).await.unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "cluster: [").unwrap();
        let (seen_by_east, errors) = east.fetch().await.unwrap();
        assert_eq!(seen_by_east, [profile("west")]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("broken.yaml"),
            "{}",
            errors[0]
        );
        // No staging file is left behind to be read as a profile.
        assert!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .all(|e| { !e.unwrap().file_name().to_string_lossy().ends_with(".tmp") })
        );
    }

    /// What one cluster publishes, load reports included, is what the other reads back.
    #[tokio::test]
    async fn a_profile_with_load_reports_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let east = FileBroker::new(dir.path(), "east");
        let west = FileBroker::new(dir.path(), "west");
        let mut published = profile("west");
        published.exports = vec![
            ExportCapacity {
                namespace: "shop".into(),
                name: "cart".into(),
                ready_endpoints: 6,
                load: Some(ExportReport {
                    utilization: Some(0.625),
                    latency_ms: Some(11.25),
                    error_rate: None,
                    measured_at: 1_750_000_000.5,
                }),
            },
            ExportCapacity {
                namespace: "shop".into(),
                name: "web".into(),
                ready_endpoints: 2,
                load: None,
            },
        ];
        west.publish(&published).await.unwrap();
        let (seen, errors) = east.fetch().await.unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(seen, [published]);
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_error_naming_it() {
        let broker = FileBroker::new("/nonexistent/aviator-broker", "east");
        let error = broker.fetch().await.unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/aviator-broker"),
            "{error}"
        );
    }
}
