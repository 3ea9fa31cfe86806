// Money as the API sends it: an integer count of the currency's minor unit (cents for EUR, yen
// for JPY). Formatted in the page's language without floating point: the amount goes to
// Intl.NumberFormat as an exact decimal string, its scale taken from the currency itself.
import { locale } from './ui.js';

/** 12950, 'EUR' -> "€129.50" (English) or "129,50 €" (French). */
export function formatMoney(minor, currency = 'EUR') {
  const nf = new Intl.NumberFormat(locale(), { style: 'currency', currency });
  const digits = nf.resolvedOptions().maximumFractionDigits;
  const n = BigInt(minor);
  const abs = (n < 0n ? -n : n).toString().padStart(digits + 1, '0');
  const text = (n < 0n ? '-' : '') + (digits ? `${abs.slice(0, -digits)}.${abs.slice(-digits)}` : abs);
  return nf.format(text);
}

/** A VAT rate in basis points as the page's language writes a percentage: 550 -> "5.5%" / "5,5 %". */
export function formatRate(bp) {
  const s = String(bp).padStart(5, '0');
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 2 })
    .format(`${s.slice(0, -4)}.${s.slice(-4)}`);
}

/** A quantity as the page's language writes it: "1.5" / "1,5"; "1.00" -> "1". */
export function formatQuantity(q) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(String(q));
}

/** What a person typed as an amount ("129,5", "129.50", "129") -> minor units (12950), or null.
 * Parsed as text: never through a float. */
export function parseMoney(text, digits = 2) {
  const m = String(text).trim().replace(/\s/g, '').match(/^(\d{1,9})(?:[.,](\d*))?$/);
  if (!m || (m[2] || '').length > digits) return null;
  return Number(BigInt(m[1] + (m[2] || '').padEnd(digits, '0')));
}

/** Minor units as an editable decimal, without grouping: 100000 -> "1000.00". */
export function plainMoney(minor, digits = 2) {
  const s = String(minor).padStart(digits + 1, '0');
  return digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
}
