//! [`Operations`] on a Docker engine, via bollard.

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::container::{
    AttachContainerOptions, Config, LogOutput, LogsOptions, NetworkingConfig, ResizeContainerTtyOptions, StatsOptions,
    WaitContainerOptions,
};
use bollard::errors::Error as BollardError;
use bollard::models::{EndpointSettings, HostConfig};
use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, StreamExt};

use crate::docker::{engine, status_code};
use crate::ops::{Attached, InstanceStats, LogLine, OneOffSpec, Operations, OutputChunk, OutputStream};
use crate::{DockerRuntime, Result, RuntimeError};

/// Splits a Docker log frame (`<RFC 3339 nanos> <text>` with timestamps on) into lines.
pub(crate) fn parse_frame(stream: OutputStream, frame: &[u8]) -> Vec<LogLine> {
    let text = String::from_utf8_lossy(frame);
    let (timestamp, rest) = match text.split_once(' ') {
        Some((ts, rest)) => match DateTime::parse_from_rfc3339(ts) {
            Ok(t) => (t.with_timezone(&Utc), rest),
            Err(_) => (Utc::now(), text.as_ref()),
        },
        None => match DateTime::parse_from_rfc3339(text.trim_end()) {
            Ok(t) => (t.with_timezone(&Utc), ""),
            Err(_) => (Utc::now(), text.as_ref()),
        },
    };
    let rest = rest.strip_suffix('\n').unwrap_or(rest);
    rest.split('\n').map(|l| LogLine { stream, timestamp, line: l.trim_end_matches('\r').to_string() }).collect()
}

/// A one-off gets the same restrictions as every app container (`hardened`, never root).
fn one_off_config(spec: &OneOffSpec, user: Option<String>) -> Config<String> {
    let i = &spec.instance;
    let memory = i64::try_from(i.memory_bytes).unwrap_or(i64::MAX);
    let endpoint = EndpointSettings { aliases: Some(vec![i.hostname.clone()]), ..Default::default() };
    Config {
        image: Some(i.image.clone()),
        entrypoint: i.entrypoint.clone(),
        cmd: i.command.clone(),
        env: Some(i.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(i.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        user,
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin),
        stdin_once: Some(spec.stdin),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            network_mode: Some(i.network.clone()),
            init: Some(true),
            console_size: spec.size.map(|(cols, rows)| vec![i32::from(rows), i32::from(cols)]),
            ..crate::docker::hardened()
        }),
        networking_config: Some(NetworkingConfig { endpoints_config: HashMap::from([(i.network.clone(), endpoint)]) }),
        ..Default::default()
    }
}

#[async_trait]
impl Operations for DockerRuntime {
    fn logs(&self, id: &str, since: Option<DateTime<Utc>>, follow: bool) -> BoxStream<'static, Result<LogLine>> {
        let options = LogsOptions::<String> {
            follow,
            stdout: true,
            stderr: true,
            timestamps: true,
            // Docker takes whole seconds: callers drop what they have already seen.
            since: since.map(|s| s.timestamp()).unwrap_or(0),
            ..Default::default()
        };
        self.docker
            .logs(id, Some(options))
            .flat_map(|item| {
                let lines: Vec<Result<LogLine>> = match item {
                    Ok(LogOutput::StdErr { message }) => {
                        parse_frame(OutputStream::Stderr, &message).into_iter().map(Ok).collect()
                    }
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        parse_frame(OutputStream::Stdout, &message).into_iter().map(Ok).collect()
                    }
                    Ok(LogOutput::StdIn { .. }) => Vec::new(),
                    Err(e) if status_code(&e) == Some(404) => vec![Err(RuntimeError::NotFound("instance".into()))],
                    Err(e) => vec![Err(engine(e))],
                };
                futures_util::stream::iter(lines)
            })
            .boxed()
    }

    async fn stats(&self, id: &str) -> Result<InstanceStats> {
        let options = StatsOptions { stream: false, one_shot: false };
        let stats = self.docker.stats(id, Some(options)).next().await;
        let stats = match stats {
            Some(Ok(s)) => s,
            Some(Err(e)) if status_code(&e) == Some(404) => {
                return Err(RuntimeError::NotFound(format!("instance {id}")))
            }
            Some(Err(e)) => return Err(engine(e)),
            None => return Err(RuntimeError::Engine(format!("no stats for {id}"))),
        };
        let cpu_delta = stats.cpu_stats.cpu_usage.total_usage.saturating_sub(stats.precpu_stats.cpu_usage.total_usage);
        let system_delta = stats
            .cpu_stats
            .system_cpu_usage
            .unwrap_or(0)
            .saturating_sub(stats.precpu_stats.system_cpu_usage.unwrap_or(0));
        let cpus = stats
            .cpu_stats
            .online_cpus
            .or_else(|| stats.cpu_stats.cpu_usage.percpu_usage.as_ref().map(|p| p.len() as u64))
            .unwrap_or(1)
            .max(1);
        let cpu_percent =
            if system_delta > 0 { cpu_delta as f64 / system_delta as f64 * cpus as f64 * 100.0 } else { 0.0 };
        // Like `docker stats`: page cache that can be reclaimed does not count.
        let cache = match stats.memory_stats.stats {
            Some(bollard::container::MemoryStatsStats::V1(v1)) => v1.total_inactive_file,
            Some(bollard::container::MemoryStatsStats::V2(v2)) => v2.inactive_file,
            None => 0,
        };
        let memory_bytes = stats.memory_stats.usage.unwrap_or(0).saturating_sub(cache);
        // The engine reports the host's memory as the limit of unlimited containers.
        let memory_limit_bytes = stats.memory_stats.limit.filter(|l| *l > 0 && *l < (1 << 60));
        Ok(InstanceStats { cpu_percent, memory_bytes, memory_limit_bytes })
    }

    async fn run_attached(&self, spec: &OneOffSpec) -> Result<Attached> {
        let user = self.non_root_user(&spec.instance.image, None).await?;
        let id = self.create(&spec.instance.name, &spec.instance.image, one_off_config(spec, user)).await?;
        let options = AttachContainerOptions::<String> {
            stdin: Some(spec.stdin),
            stdout: Some(true),
            stderr: Some(true),
            stream: Some(true),
            logs: Some(true),
            detach_keys: None,
        };
        let attached = match self.docker.attach_container(&id, Some(options)).await {
            Ok(a) => a,
            Err(e) => {
                let _ = crate::Runtime::remove(self, &id).await;
                return Err(engine(e));
            }
        };
        if let Err(e) = crate::Runtime::start(self, &id).await {
            let _ = crate::Runtime::remove(self, &id).await;
            return Err(e);
        }
        let output = attached
            .output
            .filter_map(|item| async move {
                match item {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        Some(Ok(OutputChunk { stream: OutputStream::Stdout, data: message.to_vec() }))
                    }
                    Ok(LogOutput::StdErr { message }) => {
                        Some(Ok(OutputChunk { stream: OutputStream::Stderr, data: message.to_vec() }))
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(engine(e))),
                }
            })
            .boxed();
        Ok(Attached { id, output, input: attached.input })
    }

    async fn run_detached(&self, spec: &OneOffSpec) -> Result<String> {
        let user = self.non_root_user(&spec.instance.image, None).await?;
        let id = self.create(&spec.instance.name, &spec.instance.image, one_off_config(spec, user)).await?;
        if let Err(e) = crate::Runtime::start(self, &id).await {
            let _ = crate::Runtime::remove(self, &id).await;
            return Err(e);
        }
        Ok(id)
    }

    async fn resize(&self, id: &str, cols: u16, rows: u16) -> Result<()> {
        let options = ResizeContainerTtyOptions { width: cols, height: rows };
        self.docker.resize_container_tty(id, options).await.map_err(engine)
    }

    async fn wait(&self, id: &str) -> Result<i64> {
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions<String>>);
        match wait.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) if status_code(&e) == Some(404) => Err(RuntimeError::NotFound(format!("instance {id}"))),
            Some(Err(e)) => Err(engine(e)),
            None => Err(RuntimeError::Engine(format!("no exit status for {id}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_into_timestamped_lines() {
        let lines = parse_frame(OutputStream::Stdout, b"2026-11-22T16:05:03.123456789Z hello world\n");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, "hello world");
        assert_eq!(lines[0].timestamp.timestamp_subsec_nanos(), 123_456_789);
        let lines = parse_frame(OutputStream::Stderr, b"2026-11-22T16:05:03Z a\r\nb\n");
        assert_eq!(lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let lines = parse_frame(OutputStream::Stdout, b"no timestamp here");
        assert_eq!(lines[0].line, "no timestamp here");
    }
}
