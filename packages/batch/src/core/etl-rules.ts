// The ETL's cleaning rules, pure: a raw order row in, a clean order or the reason it is
// rejected out. Rejected rows go to the dead-letter file with this reason; none is dropped.

export interface RawOrder {
  order_id: string;
  customer_id: string;
  amount: string;
  quantity: string;
  order_date: string;
  note: string;
}

export interface Order {
  order_id: string;
  customer_id: string;
  amount: number;
  quantity: number;
  order_date: string;
  note: string;
}

export interface EnrichedOrder extends Order {
  country: string;
}

export const ORDER_COLUMNS = ['order_id', 'customer_id', 'amount', 'quantity', 'order_date', 'note'] as const;
/** U+FFFD: what bytes that are not UTF-8 (a Latin-1 export mixed in) decode to. */
const REPLACEMENT_CHARACTER = '\uFFFD';
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const AMOUNT_MAX = 1_000_000;

/** Cleans one row; the order, or why not. Amounts are rounded to cents. */
export function cleanOrder(raw: RawOrder): { order: Order } | { reason: string } {
  for (const column of ORDER_COLUMNS) {
    if (raw[column].includes(REPLACEMENT_CHARACTER)) return { reason: `column ${column} is not valid UTF-8` };
  }
  const orderId = raw.order_id.trim();
  if (!/^o\d+$/.test(orderId)) return { reason: `bad order_id '${raw.order_id}'` };
  const customerId = raw.customer_id.trim();
  if (customerId === '') return { reason: 'missing customer_id' };
  const amount = Number(raw.amount.trim());
  if (raw.amount.trim() === '' || !Number.isFinite(amount) || amount <= 0 || amount > AMOUNT_MAX) {
    return { reason: `bad amount '${raw.amount}'` };
  }
  const quantity = Number(raw.quantity.trim());
  if (!Number.isInteger(quantity) || quantity < 1) return { reason: `bad quantity '${raw.quantity}'` };
  const date = raw.order_date.trim();
  if (!isCalendarDate(date)) return { reason: `bad order_date '${raw.order_date}'` };
  return {
    order: {
      order_id: orderId,
      customer_id: customerId,
      amount: Math.round(amount * 100) / 100,
      quantity,
      order_date: date,
      note: raw.note.trim(),
    },
  };
}

export function isCalendarDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = [
    31,
    year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  return day <= daysInMonth[month - 1]!;
}

export interface DailyRevenue {
  country: string;
  orders: number;
  revenue: number;
}

/** Daily revenue per country for one day's orders, sorted by country. */
export function dailyRevenue(orders: readonly EnrichedOrder[]): DailyRevenue[] {
  const byCountry = new Map<string, DailyRevenue>();
  for (const order of orders) {
    const row = byCountry.get(order.country) ?? { country: order.country, orders: 0, revenue: 0 };
    row.orders++;
    row.revenue = Math.round((row.revenue + order.amount) * 100) / 100;
    byCountry.set(order.country, row);
  }
  return [...byCountry.values()].sort((a, b) => (a.country < b.country ? -1 : a.country > b.country ? 1 : 0));
}

/** A raw click of the clickstream (a JSON line): { user_id, ts (epoch seconds), url }. */
export interface Click {
  user_id: string;
  ts: number;
  url: string;
  /** The UTC calendar date of ts: the partition the click lands in. */
  date: string;
}

/** Clicks from before 2000 or from 2100 on are clock errors, not traffic. */
const CLICK_TS_MIN = 946_684_800;
const CLICK_TS_MAX = 4_102_444_800;

/** YYYY-MM-DD of a day count since 1970-01-01 (Howard Hinnant's civil_from_days). */
export function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Cleans one parsed click; the click, or why not. */
export function cleanClick(raw: unknown): { click: Click } | { reason: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { reason: 'not a JSON object' };
  const r = raw as Record<string, unknown>;
  const user = typeof r.user_id === 'string' || typeof r.user_id === 'number' ? String(r.user_id).trim() : '';
  if (user === '') return { reason: 'missing user_id' };
  const ts =
    typeof r.ts === 'number' ? r.ts : typeof r.ts === 'string' && r.ts.trim() !== '' ? Number(r.ts) : NaN;
  if (!Number.isSafeInteger(ts) || ts < CLICK_TS_MIN || ts >= CLICK_TS_MAX)
    return { reason: `bad ts '${String(r.ts)}'` };
  const url = typeof r.url === 'string' ? r.url : '';
  if (!url.startsWith('/')) return { reason: `bad url '${String(r.url)}'` };
  return { click: { user_id: user, ts, url, date: civilDate(Math.floor(ts / 86_400)) } };
}
