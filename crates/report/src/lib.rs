//! Report writers: a tool builds a `Table`, and the CSV, Excel, text and HTML writers render it (spreadsheet-formula cells neutralised).
