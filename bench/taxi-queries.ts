// The three taxi queries of the engine benchmark and the zone table they join with, shared by
// `npm run bench` (bench/engine.ts) and `npm run bench:seed` (bench/seed.ts).

/** A query of the benchmark, over inputs `trips` (Parquet) and `zones` (CSV). */
export type TaxiQuery = { readonly name: string; readonly sql: string }

export const TAXI_QUERIES: readonly TaxiQuery[] = [
  {
    name: 'q1 one-key group-by',
    sql: `SELECT PULocationID, count(*) AS trips, round(avg(fare_amount), 4) AS avg_fare
FROM trips GROUP BY PULocationID ORDER BY PULocationID`,
  },
  {
    name: 'q2 two-key group-by, date function',
    sql: `SELECT payment_type, date_trunc('day', tpep_pickup_datetime) AS day, count(*) AS trips,
  round(sum(total_amount), 2) AS revenue
FROM trips GROUP BY payment_type, day ORDER BY payment_type, day`,
  },
  {
    name: 'q3 join with the zone table',
    sql: `SELECT z.Borough, count(*) AS trips, round(avg(t.trip_distance), 4) AS avg_miles,
  round(sum(t.tip_amount), 2) AS tips
FROM trips t JOIN zones z ON t.PULocationID = z.LocationID
GROUP BY z.Borough ORDER BY z.Borough`,
  },
]

const BOROUGHS = ['Manhattan', 'Brooklyn', 'Queens', 'Bronx', 'Staten Island', 'EWR']

/** A zone lookup table like TLC's taxi_zone_lookup.csv: 265 zones, synthetic names. */
export function zoneCsv(): string {
  const lines = ['LocationID,Borough,Zone,service_zone']
  for (let id = 1; id <= 265; id++) {
    const borough = BOROUGHS[(id * 7) % BOROUGHS.length] as string
    lines.push(
      `${id},${borough},Zone ${id},${borough === 'Manhattan' ? 'Yellow Zone' : 'Boro Zone'}`,
    )
  }
  return `${lines.join('\n')}\n`
}
