// swift-tools-version: 6.0
import PackageDescription

// Hot kernels are compiled optimised even in debug builds: the parity tests run real forward passes.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-ffast-math", "-fno-finite-math-only"])]
let swiftFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

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
    ],
    targets: [
        .target(name: "CKernels", cSettings: kernelFlags),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "Tensors", dependencies: ["CKernels", .target(name: "COpenBLAS", condition: .when(platforms: [.linux]))], swiftSettings: swiftFlags),
        .target(name: "WeightFiles", dependencies: ["Tensors", "CZlib"], swiftSettings: swiftFlags),
        .target(name: "Tokenization", swiftSettings: swiftFlags),
        .target(name: "LanguageModels", dependencies: ["Tensors", "WeightFiles"], swiftSettings: swiftFlags),
        .target(name: "SparseAutoencoders", dependencies: ["Tensors", "WeightFiles"], swiftSettings: swiftFlags),
        .target(name: "Tasks", swiftSettings: swiftFlags),
        .target(name: "CorrSteer", dependencies: ["Tensors", "WeightFiles", "Tokenization", "LanguageModels", "SparseAutoencoders", "Tasks"], resources: [.copy("Resources/demo")], swiftSettings: swiftFlags),
        .executableTarget(name: "corrsteer", dependencies: ["CorrSteer", "Tensors", "WeightFiles", "Tokenization", "LanguageModels", "SparseAutoencoders", "Tasks", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: swiftFlags),
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
        .testTarget(name: "CorrSteerTests", dependencies: ["CorrSteer", "LanguageModels"]),
        .testTarget(name: "CLITests", dependencies: ["corrsteer", "CorrSteer", "WeightFiles"]),
    ],
    swiftLanguageModes: [.v5]
)
