/**
 * SQL (DuckDB) that generates a deterministic synthetic NYC-yellow-taxi-like trip table of `rows`
 * rows: real TLC column names, plausible distributions, no real data. Every value is a function
 * of the row number through `hash()`, so the same row count gives the same table everywhere
 * (for one DuckDB version). `medallion` (a column of the 2009-2013 TLC files) gives string
 * values that tests use as plaintext markers. `offset` starts at another row number (tables
 * generated in parts); `ordered: false` skips the final sort (faster for large benchmark tables).
 */
export function taxiDatasetSql(
  rows: number,
  options: { readonly offset?: number; readonly ordered?: boolean } = {},
): string {
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new RangeError('rows must be a positive integer')
  const u = (k: number) => `((hash(i, ${k}) % 1000000) / 1000000.0)`
  return `
WITH base AS (
  SELECT i,
    ${u(1)} AS u1, ${u(2)} AS u2, ${u(3)} AS u3, ${u(4)} AS u4, ${u(5)} AS u5,
    ${u(6)} AS u6, ${u(7)} AS u7, ${u(8)} AS u8, ${u(9)} AS u9, ${u(10)} AS u10,
    CAST(hash(i, 11) % 13000 AS INTEGER) AS m
  FROM range(${options.offset ?? 0}, ${(options.offset ?? 0) + rows}) t(i)
), trips AS (
  SELECT *,
    round(-ln(1 - u4 * 0.999) * 3.1 + 0.1, 2) AS distance,
    CASE WHEN u6 < 0.74 THEN 1 WHEN u6 < 0.93 THEN 2 WHEN u6 < 0.97 THEN 4 ELSE 3 END AS payment,
    CASE WHEN u10 < 0.06 THEN 1 ELSE 0 END AS airport
  FROM base
)
SELECT
  CAST(CASE WHEN u1 < 0.27 THEN 1 ELSE 2 END AS INTEGER) AS VendorID,
  TIMESTAMP '2024-01-01 00:00:00' + to_microseconds(CAST(u2 * 31 * 86400 * 1e6 AS BIGINT)) AS tpep_pickup_datetime,
  TIMESTAMP '2024-01-01 00:00:00' + to_microseconds(CAST(u2 * 31 * 86400 * 1e6 AS BIGINT))
    + to_microseconds(CAST((distance * 3.2 + u5 * 12 + 2) * 60 * 1e6 AS BIGINT)) AS tpep_dropoff_datetime,
  CAST(CASE WHEN u3 < 0.72 THEN 1 WHEN u3 < 0.86 THEN 2 WHEN u3 < 0.92 THEN 3 WHEN u3 < 0.95 THEN 4 WHEN u3 < 0.98 THEN 5 ELSE 6 END AS BIGINT) AS passenger_count,
  distance AS trip_distance,
  CAST(CASE WHEN airport = 1 THEN 2 ELSE 1 END AS BIGINT) AS RatecodeID,
  CASE WHEN u7 < 0.005 THEN 'Y' ELSE 'N' END AS store_and_fwd_flag,
  CAST(1 + hash(i, 12) % 265 AS INTEGER) AS PULocationID,
  CAST(1 + hash(i, 13) % 265 AS INTEGER) AS DOLocationID,
  CAST(payment AS BIGINT) AS payment_type,
  round(3.0 + distance * 2.5 + (distance * 3.2 + u5 * 12 + 2) * 0.7, 2) AS fare_amount,
  CAST(CASE WHEN u8 < 0.35 THEN 2.5 WHEN u8 < 0.45 THEN 1.0 ELSE 0.0 END AS DOUBLE) AS extra,
  CAST(0.5 AS DOUBLE) AS mta_tax,
  CAST(CASE WHEN payment = 1 THEN round((3.0 + distance * 2.5 + (distance * 3.2 + u5 * 12 + 2) * 0.7) * (0.08 + u9 * 0.2), 2) ELSE 0.0 END AS DOUBLE) AS tip_amount,
  CAST(CASE WHEN airport = 1 AND u9 < 0.5 THEN 6.94 ELSE 0.0 END AS DOUBLE) AS tolls_amount,
  CAST(1.0 AS DOUBLE) AS improvement_surcharge,
  round(
    3.0 + distance * 2.5 + (distance * 3.2 + u5 * 12 + 2) * 0.7
    + CASE WHEN u8 < 0.35 THEN 2.5 WHEN u8 < 0.45 THEN 1.0 ELSE 0.0 END + 0.5 + 1.0 + 2.5
    + CASE WHEN payment = 1 THEN round((3.0 + distance * 2.5 + (distance * 3.2 + u5 * 12 + 2) * 0.7) * (0.08 + u9 * 0.2), 2) ELSE 0.0 END
    + CASE WHEN airport = 1 AND u9 < 0.5 THEN 6.94 ELSE 0.0 END
    + CASE WHEN airport = 1 THEN 1.75 ELSE 0.0 END, 2)::DOUBLE AS total_amount,
  CAST(2.5 AS DOUBLE) AS congestion_surcharge,
  CAST(CASE WHEN airport = 1 THEN 1.75 ELSE 0.0 END AS DOUBLE) AS Airport_fee,
  'NYC-' || lpad(CAST(m AS VARCHAR), 5, '0') || '-' || upper(substr(md5('medallion-' || m), 1, 10)) AS medallion
FROM trips${options.ordered === false ? '' : '\nORDER BY i'}`
}

/** The demo job's query: trips, distance, fares, tip rate and revenue by payment type. */
export const DEMO_QUERY = `SELECT
  CASE payment_type WHEN 1 THEN 'Credit card' WHEN 2 THEN 'Cash' WHEN 3 THEN 'No charge'
    WHEN 4 THEN 'Dispute' ELSE 'Unknown' END AS payment,
  count(*) AS trips,
  round(avg(trip_distance), 2) AS avg_miles,
  round(avg(fare_amount), 2) AS avg_fare,
  round(100 * sum(tip_amount) / sum(fare_amount), 2) AS tip_pct,
  round(sum(total_amount), 2) AS revenue
FROM trips
GROUP BY payment_type
ORDER BY trips DESC`
