//! The framing of an attached one-off session (`berth run`) over an upgraded
//! HTTP connection: `[kind: u8][length: u32 big-endian][payload]`.
//!
//! Client → server: stdin bytes, stdin EOF, terminal resize. Server → client:
//! stdout/stderr bytes, the exit code, an error message. Pure encoding, no I/O.

/// The `Upgrade` protocol token of an attach session.
pub const PROTOCOL: &str = "berth-attach";
/// Largest payload a frame may carry.
pub const MAX_PAYLOAD: usize = 1 << 20;
const HEADER: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdin(Vec<u8>),
    StdinEof,
    Resize { cols: u16, rows: u16 },
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame of {0} bytes is too large")]
    TooLarge(usize),
    #[error("malformed {0} frame")]
    Malformed(&'static str),
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            Frame::Stdin(d) => (0, d.into()),
            Frame::StdinEof => (1, (&[][..]).into()),
            Frame::Resize { cols, rows } => {
                let mut p = cols.to_be_bytes().to_vec();
                p.extend_from_slice(&rows.to_be_bytes());
                (2, p.into())
            }
            Frame::Stdout(d) => (3, d.into()),
            Frame::Stderr(d) => (4, d.into()),
            Frame::Exit(code) => (5, code.to_be_bytes().to_vec().into()),
            Frame::Error(m) => (6, m.as_bytes().into()),
        };
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Takes one whole frame off the front of `buf`; `Ok(None)` until one is complete.
    pub fn decode(buf: &mut Vec<u8>) -> Result<Option<Frame>, FrameError> {
        if buf.len() < HEADER {
            return Ok(None);
        }
        let kind = buf[0];
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLarge(len));
        }
        if buf.len() < HEADER + len {
            return Ok(None);
        }
        let payload: Vec<u8> = buf.drain(..HEADER + len).skip(HEADER).collect();
        let frame = match kind {
            0 => Frame::Stdin(payload),
            1 => Frame::StdinEof,
            2 => {
                let [c1, c2, r1, r2] = payload[..] else { return Err(FrameError::Malformed("resize")) };
                Frame::Resize { cols: u16::from_be_bytes([c1, c2]), rows: u16::from_be_bytes([r1, r2]) }
            }
            3 => Frame::Stdout(payload),
            4 => Frame::Stderr(payload),
            5 => {
                let [a, b, c, d] = payload[..] else { return Err(FrameError::Malformed("exit")) };
                Frame::Exit(i32::from_be_bytes([a, b, c, d]))
            }
            6 => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
            other => return Err(FrameError::UnknownKind(other)),
        };
        Ok(Some(frame))
    }
}

/// Joins `berth run` arguments into one shell command: a single argument is
/// taken as written (`berth run 'echo $HOME | wc'`); several are quoted so each
/// stays one word (`berth run -- sh -c 'exit 3'`).
pub fn shell_command(args: &[String]) -> String {
    if let [one] = args {
        return one.clone();
    }
    args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
}

fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_split_reads() {
        let frames = vec![
            Frame::Stdin(b"hello".to_vec()),
            Frame::StdinEof,
            Frame::Resize { cols: 120, rows: 40 },
            Frame::Stdout(vec![0, 255, 10]),
            Frame::Stderr(Vec::new()),
            Frame::Exit(-3),
            Frame::Error("no release".into()),
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(3) {
            buf.extend_from_slice(chunk);
            while let Some(f) = Frame::decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, frames);
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut buf = vec![9, 0, 0, 0, 0];
        assert_eq!(Frame::decode(&mut buf), Err(FrameError::UnknownKind(9)));
        let mut buf = vec![0, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(Frame::decode(&mut buf), Err(FrameError::TooLarge(_))));
        let mut buf = vec![2, 0, 0, 0, 1, 7];
        assert_eq!(Frame::decode(&mut buf), Err(FrameError::Malformed("resize")));
    }

    #[test]
    fn commands_are_quoted_per_word() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(shell_command(&args(&["echo $HOME | wc"])), "echo $HOME | wc");
        assert_eq!(shell_command(&args(&["sh", "-c", "exit 3"])), "sh -c 'exit 3'");
        assert_eq!(shell_command(&args(&["echo", "it's"])), r"echo 'it'\''s'");
        assert_eq!(shell_command(&args(&["printf", ""])), "printf ''");
    }
}
