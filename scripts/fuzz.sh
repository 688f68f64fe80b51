#!/usr/bin/env bash
# Fuzzes the parsers of user input with libFuzzer, each target for SECONDS (default 60):
#   option-text     --x/--scale number lists, -o key=value, the quoting of echoed input
#   npy-file        .npy files (@FILE)
#   json-file       JSON files (@FILE)
#   signature       --signature
#   exec-lines      the --exec line protocol: a program's output read back line by line
#   plugin-options-ID  -o options through each bundled plugin's create()
# Each target is compiled from the project's own sources (scripts/fuzz.sh lists them) with
# -sanitize=fuzzer,address and starts from the committed corpus Tests/Fuzz/corpus/TARGET (the
# cases of issue 20 among them); what it finds new goes to .build/fuzz/corpus, so the committed
# corpus stays small. A crash, a trap, a leak or an input slower than 10 s fails the target
# (its input is kept in .build/fuzz/artifacts). Prints one line per target with its executions;
# exits 1 when any target failed.
#
#   scripts/fuzz.sh 60            # a minute per target
#   scripts/fuzz.sh 5 npy-file    # only the named targets
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
shift || true
work=.build/fuzz
mkdir -p "$work/bin" "$work/corpus" "$work/artifacts"

# The exec-lines target needs swift-system's SystemPackage, which SwiftPM builds.
swift build --target SystemPackage >/dev/null
system_build="$(swift build --show-bin-path)"

swift_sources() {
    case "$1" in
        option-text) echo Sources/gss/Options/NumberList.swift Sources/gss/Options/PluginOptionText.swift Sources/gss/StringEditing.swift \
            Sources/gss/Files/NumberFile.swift Sources/gss/CommandError.swift Sources/gss/QuotedInput.swift Sources/GSSPlots/CFormat.swift ;;
        npy-file | json-file) echo Sources/gss/Files/NumberFile.swift Sources/gss/CommandError.swift Sources/gss/QuotedInput.swift \
            Sources/GSSPlots/CFormat.swift ;;
        signature) echo Sources/GSSHost/ForeignFunctions/FunctionSignature.swift Sources/GSSHost/ForeignFunctions/ForeignFunctionError.swift ;;
        exec-lines) echo Sources/GSSHost/ExternalPrograms/NumberText.swift Sources/GSSHost/ExternalPrograms/ExternalProgramError.swift \
            Sources/GSSHost/ExternalPrograms/SystemCalls.swift ;;
    esac
}

plugin_sources() {
    case "$1" in
        sorter) echo Plugins/Sorter/sorter.c ;;
        shortest-path) echo Plugins/ShortestPath/shortest_path.c ;;
        renderer) echo Plugins/Renderer/renderer.c ;;
        tem) echo Plugins/TEM/tem.c Plugins/TEM/tem_builtin.c Plugins/TEM/tem_external.c ;;
    esac
}

build() {
    local target="$1" binary="$work/bin/$1"
    case "$target" in
        plugin-options-*)
            local id="${target#plugin-options-}"
            # shellcheck disable=SC2046
            clang -g -O1 -fsanitize=fuzzer,address -Iinclude Tests/Fuzz/Targets/plugin_options.c $(plugin_sources "$id") \
                -lfftw3 -lm -o "$binary" ;;
        exec-lines)
            # shellcheck disable=SC2046
            swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name FuzzExecLines \
                -I "$system_build/Modules" -I .build/checkouts/swift-system/Sources/CSystem/include \
                $(swift_sources "$target") Tests/Fuzz/Targets/exec_lines.swift \
                "$system_build"/SystemPackage.build/*.o "$system_build"/CSystem.build/*.o -o "$binary" ;;
        *)
            # shellcheck disable=SC2046
            swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz${target//-/}" \
                $(swift_sources "$target") "Tests/Fuzz/Targets/${target//-/_}.swift" -o "$binary" ;;
    esac 2> >(grep -v "Cannot export local symbol" >&2)
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(option-text npy-file json-file signature exec-lines
        plugin-options-sorter plugin-options-shortest-path plugin-options-renderer plugin-options-tem)
fi

failed=()
total=0
for target in "${targets[@]}"; do
    build "$target"
    mkdir -p "$work/corpus/$target" "Tests/Fuzz/corpus/$target"
    log="$work/$target.log"
    status=0
    # Swift's own backtracer off: libFuzzer and ASan report the crash.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 "$work/bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" \
        "$work/corpus/$target" "Tests/Fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    runs="${runs:-0}"
    total=$((total + runs))
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "fuzz: $target FAILED after $runs executions (exit $status); see $log:" >&2
        grep -m5 -E "ERROR|Fatal error|SUMMARY|deadly signal|timeout" "$log" >&2 || tail -20 "$log" >&2
    else
        echo "fuzz: $target: $runs executions in ${seconds} s, no crash"
    fi
done
echo "fuzz: ${#targets[@]} targets, $total executions, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
