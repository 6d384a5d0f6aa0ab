"""Curated corpus I/O on Beam: Parquet per source, through Beam's file sinks (local, gs://, s3://)."""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from gap_replay.documents import SOURCES, Document
from gap_replay.mix import split_of
from gap_replay.parquet import PARQUET_SCHEMA, SPLIT_FILES, to_parquet_row

# Curated row groups close once they hold this many bytes of rows (Beam's default is 64 MB): build reads a slice of
# a few thousand rows by decoding its row group from the start, so a small group bounds what a slice decodes and
# skips to a couple of MB, where a 64 MB group made the later slices of a file decode most of it again.
ROW_GROUP_BYTES = 2 << 20
RECORD_BATCH_ROWS = 256  # rows per Arrow batch, the step in which a row group grows


def match_paths(pattern: str) -> list[str]:
    """Paths matching a glob on any Beam filesystem (local, gs://, s3://), sorted."""
    return sorted(metadata.path for metadata in FileSystems.match([pattern])[0].metadata_list)


def curated_prefix(output: str, source: str, split: str) -> str:
    """`<output>/curated/<source>/<split file name>`: the shards' names start with it."""
    return FileSystems.join(output, "curated", source, SPLIT_FILES[split])


class WriteCurated(beam.PTransform):
    """Documents -> `<output>/curated/<source>/{train,validation}-SSSSS-of-NNNNN.parquet`, each document in the split
    build puts it in (`split_of` its id); 0 shards = the runner decides."""

    def __init__(
        self, output: str, sources: Sequence[str], seed: int, valid_fraction: float, num_shards: int = 0
    ) -> None:
        super().__init__()
        self._output = output
        self._num_shards = num_shards
        self._parts = [(source, split) for source in SOURCES if source in sources for split in SPLIT_FILES]
        self._seed = seed
        self._valid_fraction = valid_fraction

    def _part(self, doc: Document, _: int) -> int:
        return self._parts.index((doc.source, split_of(doc.id, self._seed, self._valid_fraction)))

    def expand(self, docs: beam.PCollection) -> None:
        parts = docs | "BySourceAndSplit" >> beam.Partition(self._part, len(self._parts))
        for (source, split), part in zip(self._parts, parts, strict=True):
            label = f"{source.capitalize()}{SPLIT_FILES[split].capitalize()}"
            _ = (
                part
                | f"{label}Rows" >> beam.Map(to_parquet_row)
                | f"Write{label}"
                >> beam.io.WriteToParquet(
                    curated_prefix(self._output, source, split),
                    schema=PARQUET_SCHEMA,
                    file_name_suffix=".parquet",
                    num_shards=self._num_shards,
                    row_group_buffer_size=ROW_GROUP_BYTES,
                    record_batch_size=RECORD_BATCH_ROWS,
                )
            )


class ReadCurated(beam.PTransform):
    """Curated Parquet files (the ones curate's record lists) -> Documents."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__()
        self._paths = list(paths)

    def expand(self, pipeline: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pipeline
            | "CuratedFiles" >> beam.Create(self._paths)
            | "ReadParquet" >> beam.io.ReadAllFromParquet()
            | "ToDocuments" >> beam.Map(Document.from_dict)
        )
