//! kmirror-protocol against a real broker.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::ApiVersionsRequest;
use kmirror_protocol::codec::{decode_response, encode_request};
use kmirror_protocol::kafka_protocol;

use crate::harness::Broker;

#[test]
fn api_versions_answers_from_real_broker() {
    let broker = Broker::start(1);
    let mut s = TcpStream::connect(&broker.bootstrap).unwrap();
    let req = ApiVersionsRequest::default()
        .with_client_software_name("kmirror".into())
        .with_client_software_version("0.1.0".into());
    s.write_all(&encode_request(1, Some("kmirror-test"), 3, &req).unwrap())
        .unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let resp = decode_response::<ApiVersionsRequest>(3, Bytes::from(body)).unwrap();
    assert_eq!(resp.error_code, 0);
    assert!(resp.api_keys.iter().any(|k| k.api_key == 1), "Fetch listed");
}
