"""The Subrosa Spark runner: executes a plan rendered by `subrosa spark render`.

Shipped in the Subrosa Spark image at /opt/subrosa/spark/run_job.py and started by spark-submit
after the launcher has attested the pod. It reads plan.json (views, parameters, outputs), registers
each input as a temporary view over spark.read.parquet (decrypted by parquet-java's
PropertiesDrivenCryptoFactory through the Subrosa KMS client), runs each output's Spark SQL with its
parameters bound by name (never spliced into the text) and writes the result as Parquet encrypted
under the output's master key: footer and every column. Nothing here handles a key.
"""

import json
import sys

from pyspark.sql import SparkSession

# parquet-java's column.keys syntax is "<key>:<col>,<col>;<key>:...": these cannot be in names.
KEY_SYNTAX = set(",;:")


class PlanError(Exception):
    """The plan cannot be run as written (a stable code first, as in docs/errors.md)."""


def column_keys(key, columns):
    """The parquet.encryption.column.keys value that encrypts every column under `key`."""
    for name in columns:
        if KEY_SYNTAX & set(name):
            raise PlanError(
                "ERR_SPARK_PLAN: column %r cannot be named in parquet.encryption.column.keys" % name
            )
    return "%s:%s" % (key, ",".join(columns))


def run(spark, plan):
    if plan.get("apiVersion") != "subrosa/v1" or plan.get("kind") != "SparkPlan":
        raise PlanError("ERR_SPARK_PLAN: not a subrosa/v1 SparkPlan")
    for view in plan["views"]:
        spark.read.parquet(view["path"]).createOrReplaceTempView(view["name"])
    written = []
    for output in plan["outputs"]:
        args = {name: plan["parameters"][name] for name in output["parameters"]}
        frame = spark.sql(output["sql"], args=args)
        encryption = output["encryption"]
        key = encryption["parquet.encryption.column.keys"]
        (
            frame.write.mode("errorifexists")
            .option("parquet.encryption.footer.key", encryption["parquet.encryption.footer.key"])
            .option("parquet.encryption.column.keys", column_keys(key, frame.columns))
            .parquet(output["path"])
        )
        written.append(output["name"])
    return written


def main(argv):
    if len(argv) != 2:
        raise PlanError("ERR_SPARK_PLAN: usage: run_job.py <plan.json>")
    with open(argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    spark = SparkSession.builder.appName(plan.get("job", "subrosa")).getOrCreate()
    try:
        for name in run(spark, plan):
            print("wrote output %s" % name)
    finally:
        spark.stop()


if __name__ == "__main__":
    try:
        main(sys.argv)
    except PlanError as error:
        print(str(error), file=sys.stderr)
        sys.exit(1)
