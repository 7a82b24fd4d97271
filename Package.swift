// swift-tools-version: 6.0
import PackageDescription

// No unsafe flags, so that other packages can depend on the CorrSteer library by version. Release
// builds get SwiftPM's -O with whole-module optimisation everywhere: every module keeps Swift's bounds
// and overflow traps (the file parsers above all). The hot loops are C (CKernels), vectorised by
// intrinsics chosen at run time, so they need neither -O3 nor -ffast-math; with -Ounchecked and those
// flags gone, Gemma-2-2B prefill took the same CPU time (docs/precision.md § Build flags). Debug builds
// compile the kernels unoptimised: test with -c release, as the README says.
let kernelFlags: [CSetting] = []
let swiftFlags: [SwiftSetting] = []
let parserFlags: [SwiftSetting] = []

let package = Package(
    name: "corrsteer",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "corrsteer", targets: ["corrsteer"]),
        .library(name: "CorrSteer", targets: ["CorrSteer"]),
        .executable(name: "corrsteer-fuzz", targets: ["corrsteer-fuzz"]),
        .executable(name: "corrsteer-fuzz-parsers", targets: ["corrsteer-fuzz-parsers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        .target(name: "CKernels", cSettings: kernelFlags),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "Tensors", dependencies: ["CKernels"], swiftSettings: swiftFlags),
        .target(name: "InputQuoting", swiftSettings: parserFlags),
        .target(name: "WeightFiles", dependencies: ["Tensors", "CZlib", "InputQuoting"], swiftSettings: parserFlags),
        .target(name: "Tokenization", dependencies: ["InputQuoting"], swiftSettings: swiftFlags),
        .target(name: "LanguageModels", dependencies: ["Tensors", "WeightFiles", "InputQuoting"], swiftSettings: swiftFlags),
        .target(name: "SparseAutoencoders", dependencies: ["Tensors", "WeightFiles", "InputQuoting"], swiftSettings: swiftFlags),
        .target(name: "Tasks", dependencies: ["InputQuoting"], swiftSettings: parserFlags),
        .target(name: "CorrSteer", dependencies: ["InputQuoting", "Tensors", "WeightFiles", "Tokenization", "LanguageModels", "SparseAutoencoders", "Tasks"], resources: [.copy("Resources/demo")], swiftSettings: swiftFlags),
        .target(name: "Serving", dependencies: ["CorrSteer", "LanguageModels", "SparseAutoencoders", "Tokenization", "Tensors", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Prometheus", package: "swift-prometheus")], swiftSettings: swiftFlags),
        .target(name: "Benchmarks", dependencies: ["CKernels", "CorrSteer", "LanguageModels", "Tensors", "WeightFiles"], swiftSettings: swiftFlags),
        .executableTarget(name: "corrsteer", dependencies: ["CorrSteer", "Benchmarks", "Tensors", "WeightFiles", "Tokenization", "LanguageModels", "SparseAutoencoders", "Tasks", "Serving", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: swiftFlags),
        // Fuzzing harness (scripts/fuzz/README.md). The CLI fuzzer runs the built `corrsteer` binary and
        // links only zlib (CRCs, re-deflating npz members); the parsers' entry point links the parsers.
        .executableTarget(name: "corrsteer-fuzz", dependencies: ["CZlib"], path: "scripts/fuzz/cli"),
        .executableTarget(name: "corrsteer-fuzz-parsers", dependencies: ["WeightFiles", "Tokenization", "LanguageModels", "SparseAutoencoders", "Tasks", "CorrSteer"], path: "scripts/fuzz/parsers"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "WeightFilesTests", dependencies: ["WeightFiles"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"]),
        .testTarget(name: "LanguageModelsTests", dependencies: ["LanguageModels"]),
        .testTarget(name: "SparseAutoencodersTests", dependencies: ["SparseAutoencoders"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks"]),
        .testTarget(name: "CorrSteerTests", dependencies: ["CorrSteer", "LanguageModels", "SparseAutoencoders", "Tensors"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "LanguageModels", "Tensors"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "CorrSteer", "LanguageModels", "SparseAutoencoders", "Tokenization", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "CLITests", dependencies: ["corrsteer", "CorrSteer", "WeightFiles"]),
    ],
    swiftLanguageModes: [.v5]
)
