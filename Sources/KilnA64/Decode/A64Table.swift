/// The A64 instruction table, one line per encoding, split by group into the Table*.swift
/// files. Order within the table does not matter: the decoder tries the most specific line
/// (most fixed bits) first, so a reserved sub-encoding can be listed beside its general form.
public enum A64Table {
    public static let all: [A64Encoding] = dataProcessing + branchSystem + loadStore + floatingPoint + simd + excluded
}
