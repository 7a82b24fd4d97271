// swift-tools-version: 6.0
// An outside package that uses the CorrSteer library. Here it names the checkout by path; a package of
// yours names it by URL and version (`.package(url: "…/corrsteer.git", from: "…")`), which SwiftPM
// allows because corrsteer sets no unsafe compiler flags.
import PackageDescription

let package = Package(
    name: "library-use",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "corrsteer", path: "../..")],
    targets: [
        .executableTarget(name: "SelectedFeatures", dependencies: [.product(name: "CorrSteer", package: "corrsteer")]),
    ]
)
