//! Property tests of the CSV writer over text as Slack and Telegram supply it: formula
//! neutralisation inserts only `'`s, the file reads back to the neutralised text, and no reader
//! splitting on another separator (`;`, tab) finds a live formula in a text cell.

use proptest::prelude::*;
use report::{Cell, Row, Table, neutralize_formula, write_csv_to};

/// Formula starts, separators, quotes and line breaks, mixed with arbitrary characters.
fn field_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '=', '+', '-', '@', '\t', '\r', '\n', ',', ';', '"', '\'', ' ', '1', '2', '.', 'a',
            'x', 'H',
        ]),
        1 => any::<char>(),
    ]
}

fn field() -> impl Strategy<Value = String> {
    prop::collection::vec(field_char(), 0..16).prop_map(String::from_iter)
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        3 => field().prop_map(Cell::Text),
        1 => prop::collection::vec(field(), 0..3).prop_map(Cell::List),
        1 => (0i64..1_000_000).prop_map(Cell::Int),
    ]
}

/// What a spreadsheet would run: a cell starting with a formula character that is not a number.
fn is_live_formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    ) && cell.parse::<f64>().is_err()
}

fn read_back(bytes: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Neutralising only inserts `'`s, and after it no piece of the text (the start, or after
    /// a separator) starts a formula unless the whole text is a plain number.
    #[test]
    fn neutralising_only_inserts_quote_marks(s in field()) {
        let safe = neutralize_formula(&s);
        let without = |t: &str| t.chars().filter(|c| *c != '\'').collect::<String>();
        prop_assert_eq!(without(&safe), without(&s));
        prop_assert!(safe.len() >= s.len());
        if s.parse::<f64>().is_err() || s.contains(char::is_alphabetic) {
            let starts = std::iter::once(0)
                .chain(safe.match_indices([',', ';', '\t', '\n', '\r']).map(|(i, m)| i + m.len()));
            for start in starts {
                let piece = safe[start..].trim_start_matches('"');
                prop_assert!(
                    !matches!(piece.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                    "{:?} -> {:?}", s, safe
                );
            }
        }
    }

    /// Written and read back with the same separator, every cell is the neutralised text; read
    /// with `;` or tab as a spreadsheet in another locale would, no text makes a live formula.
    /// Rows start with an id, as every report's rows do: a signed number first on a line would
    /// be read glued to the next field by such a reader (documented on `neutralize_formula`).
    #[test]
    fn csv_reads_back_and_no_separator_exposes_a_formula(
        rows in prop::collection::vec(prop::collection::vec(cell(), 2), 1..4),
    ) {
        let rows: Vec<Vec<Cell>> = rows
            .into_iter()
            .enumerate()
            .map(|(i, cells)| std::iter::once(Cell::Int(i as i64)).chain(cells).collect())
            .collect();
        let mut table = Table::new("T", ["a", "b", "c"]);
        for cells in &rows {
            table.push(Row::new(cells.clone()));
        }
        let mut bytes = Vec::new();
        write_csv_to(&table, &mut bytes).expect("write");

        let back = read_back(&bytes, b',');
        prop_assert_eq!(back.len(), rows.len() + 1);
        for (cells, read) in rows.iter().zip(&back[1..]) {
            for (cell, got) in cells.iter().zip(read) {
                let want = match cell {
                    Cell::Text(s) => neutralize_formula(s).into_owned(),
                    Cell::List(items) => neutralize_formula(&items.join(";")).into_owned(),
                    Cell::Int(i) => i.to_string(),
                    _ => unreachable!("only text, lists and ints are generated"),
                };
                prop_assert_eq!(got, &want);
            }
        }
        for delimiter in [b';', b'\t'] {
            for cell in read_back(&bytes, delimiter).iter().flatten() {
                prop_assert!(!is_live_formula(cell), "split on {:?}: {:?}", delimiter as char, cell);
            }
        }
    }
}
