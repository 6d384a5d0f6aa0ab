"""Curated corpus I/O on Beam: Parquet per source, through Beam's file sinks (local, gs://, s3://)."""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from gap_replay.documents import SOURCES, Document
from gap_replay.parquet import PARQUET_SCHEMA, to_parquet_row

# Curated row groups close once they hold this many bytes of rows (Beam's default is 64 MB): build reads a slice of
# a few thousand rows by decoding its row group from the start, so a small group bounds what a slice decodes and
# skips to a couple of MB, where a 64 MB group made the later slices of a file decode most of it again.
ROW_GROUP_BYTES = 2 << 20
RECORD_BATCH_ROWS = 256  # rows per Arrow batch, the step in which a row group grows


def match_paths(pattern: str) -> list[str]:
    """Paths matching a glob on any Beam filesystem (local, gs://, s3://), sorted."""
    return sorted(metadata.path for metadata in FileSystems.match([pattern])[0].metadata_list)


def curated_prefix(output: str, source: str) -> str:
    return FileSystems.join(output, "curated", source, "part")


class WriteCurated(beam.PTransform):
    """Documents -> `<output>/curated/<source>/part-SSSSS-of-NNNNN.parquet`; 0 shards = the runner decides."""

    def __init__(self, output: str, sources: Sequence[str], num_shards: int = 0) -> None:
        super().__init__()
        self._output = output
        self._num_shards = num_shards
        self._sources = [source for source in SOURCES if source in sources]

    def expand(self, docs: beam.PCollection) -> None:
        by_source = docs | "BySource" >> beam.Partition(
            lambda doc, _: self._sources.index(doc.source), len(self._sources)
        )
        for source, part in zip(self._sources, by_source, strict=True):
            _ = (
                part
                | f"{source}Rows" >> beam.Map(to_parquet_row)
                | f"Write{source.capitalize()}"
                >> beam.io.WriteToParquet(
                    curated_prefix(self._output, source),
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
