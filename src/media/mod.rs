//! Packetizers and depacketizers for Opus, VP8, VP9, H.264 and AV1.
