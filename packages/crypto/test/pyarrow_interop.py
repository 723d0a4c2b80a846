"""pyarrow side of Subrosa's PME interop test (run by src/parquet/pyarrow-interop.test.ts).

A pyarrow KmsClient whose wrap_key/unwrap_key POST to the test's loopback KMS bridge, so the key
wrapping under test stays in TypeScript. Standard library + pyarrow only.

  read  <encrypted.parquet> <plain_out.parquet>      decrypt with CryptoFactory, write plaintext
  write <bridge_url> <encrypted_out> <plain_out> [mode]
        write an encrypted file + plaintext twin through CryptoFactory; mode: uniform (default),
        columns, ctr, plaintext_footer, single_wrapping
  read-direct  <hex key> <aad prefix|-> <encrypted> <plain_out>     direct footer key (uniform)
  write-direct <hex key> <mode> <encrypted_out> <plain_out>
        direct footer key, uniform; mode: gcm, ctr, plaintext_footer, aad_stored, aad_supplied

Prints one JSON line: the KMS connection configs pyarrow handed to the client factory.
"""
import base64
import datetime
import json
import sys
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe

SEEN = []


class BridgeKmsClient(pe.KmsClient):
    def __init__(self, config):
        super().__init__()
        self.url = config.kms_instance_url
        SEEN.append({"kms_instance_id": config.kms_instance_id, "kms_instance_url": config.kms_instance_url})

    def _call(self, op, body):
        request = urllib.request.Request(
            f"{self.url}/{op}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def wrap_key(self, key_bytes, master_key_identifier):
        key = base64.b64encode(key_bytes).decode()
        return self._call("wrap", {"masterKeyId": master_key_identifier, "key": key})["wrapped"]

    def unwrap_key(self, wrapped_key, master_key_identifier):
        answer = self._call("unwrap", {"masterKeyId": master_key_identifier, "wrapped": wrapped_key})
        return base64.b64decode(answer["key"])


def factory():
    return pe.CryptoFactory(lambda config: BridgeKmsClient(config))


def read(encrypted, plain_out):
    # An empty connection config: Arrow fills the KMS instance id/URL from the footer key material.
    properties = factory().file_decryption_properties(
        pe.KmsConnectionConfig(), pe.DecryptionConfiguration()
    )
    table = pq.read_table(encrypted, decryption_properties=properties)
    pq.write_table(table, plain_out)


def sample_table(rows=20000):
    base = datetime.datetime(2024, 1, 1)
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "city": pa.array([["Zurich", "Basel", "Bern", None][i % 4] for i in range(rows)]),
            "fare": pa.array([None if i % 9 == 0 else i * 0.5 for i in range(rows)], pa.float64()),
            "pickup": pa.array([base + datetime.timedelta(seconds=i * 13) for i in range(rows)], pa.timestamp("us")),
            "tags": pa.array([[i, i + 1] if i % 5 else None for i in range(rows)], pa.list_(pa.int32())),
        }
    )


KMS_MODES = {
    "uniform": {},
    "columns": {"column_keys": {"demo-pii": ["city", "fare"]}},
    "ctr": {"column_keys": {"demo-pii": ["city"]}, "encryption_algorithm": "AES_GCM_CTR_V1"},
    "plaintext_footer": {"column_keys": {"demo-pii": ["fare"]}, "plaintext_footer": True},
    "single_wrapping": {"double_wrapping": False},
}


def write(bridge_url, encrypted_out, plain_out, mode="uniform"):
    table = sample_table()
    settings = {
        "footer_key": "subrosa:demo/pyarrow",
        "double_wrapping": True,
        "plaintext_footer": False,
        "encryption_algorithm": "AES_GCM_V1",
        "data_key_length_bits": 256,
        **KMS_MODES[mode],
    }
    if "column_keys" not in settings:
        settings["uniform_encryption"] = True
    config = pe.EncryptionConfiguration(**settings)
    kms = pe.KmsConnectionConfig(kms_instance_id="pyarrow-test", kms_instance_url=bridge_url)
    properties = factory().file_encryption_properties(kms, config)
    # Small pages and row groups: many modules per chunk, so page ordinals matter.
    with pq.ParquetWriter(
        encrypted_out,
        table.schema,
        encryption_properties=properties,
        data_page_size=8192,
        write_page_index=True,
    ) as writer:
        writer.write_table(table, row_group_size=6000)
    pq.write_table(table, plain_out)


DIRECT_MODES = {
    "gcm": {},
    "ctr": {"encryption_algorithm": "AES_GCM_CTR_V1"},
    "plaintext_footer": {"plaintext_footer": True},
    "aad_stored": {"aad_prefix": b"table=trips/part=7"},
    "aad_supplied": {"aad_prefix": b"table=trips/part=7", "store_aad_prefix": False},
}


def write_direct(hex_key, mode, encrypted_out, plain_out):
    table = sample_table()
    properties = pe.create_encryption_properties(bytes.fromhex(hex_key), **DIRECT_MODES[mode])
    with pq.ParquetWriter(encrypted_out, table.schema, encryption_properties=properties, data_page_size=8192) as writer:
        writer.write_table(table, row_group_size=6000)
    pq.write_table(table, plain_out)


def read_direct(hex_key, aad_prefix, encrypted, plain_out):
    extra = {} if aad_prefix == "-" else {"aad_prefix": aad_prefix.encode()}
    properties = pe.create_decryption_properties(bytes.fromhex(hex_key), **extra)
    pq.write_table(pq.read_table(encrypted, decryption_properties=properties), plain_out)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"read": read, "write": write, "read-direct": read_direct, "write-direct": write_direct}[mode](*args)
    print(json.dumps({"kmsConfigs": SEEN}))
