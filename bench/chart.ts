/** A hand-built SVG bar chart of the ingest benchmark: readings per second per target. */

interface Bar {
  label: string;
  value: number;
}

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderChart(
  ingest: {
    platform: { peakReadingsPerSecond: number };
    bareAedes: { peakReadingsPerSecond: number };
    mosquitto: { peakReadingsPerSecond: number } | null;
    influxOnly: { readingsPerSecond: number };
  },
  mode: string,
): string {
  const bars: Bar[] = [
    {
      label: 'Telemoat platform (peak, acked + stored)',
      value: ingest.platform.peakReadingsPerSecond,
    },
    { label: 'bare Aedes (acked)', value: ingest.bareAedes.peakReadingsPerSecond },
    ...(ingest.mosquitto
      ? [{ label: 'Mosquitto 2 (acked)', value: ingest.mosquitto.peakReadingsPerSecond }]
      : []),
    { label: 'InfluxDB alone (stored)', value: ingest.influxOnly.readingsPerSecond },
  ];
  const width = 760;
  const labelWidth = 300;
  const barArea = width - labelWidth - 110;
  const rowHeight = 36;
  const top = 48;
  const height = top + bars.length * rowHeight + 20;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rows = bars
    .map((bar, i) => {
      const y = top + i * rowHeight;
      const w = Math.max(1, (bar.value / max) * barArea);
      const fill = i === 0 ? '#2f6fde' : '#8a94a6';
      return [
        `<text x="${labelWidth - 8}" y="${y + 19}" text-anchor="end">${escape(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 12}" fill="${fill}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 19}">${Math.round(bar.value).toLocaleString('en')}</text>`,
      ].join('');
    })
    .join('\n  ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="12" y="24" font-size="15" font-weight="bold">Ingest: peak readings per second (${escape(mode)} run, higher is better)</text>
  ${rows}
</svg>
`;
}
