// Package pkgbuild builds minikit's component images from recipes: a
// directory holding build.yml, which names Debian packages to unpack,
// static Go programs of this module to build, files to copy and the image
// config, including the LinuxKit-style defaults of its
// org.mobyproject.config label.
//
// A build is content-addressed: the recipe, the files it copies, the
// exact .deb files and the built programs are hashed into the label
// org.minikit.recipe-hash, and a store that already holds the image with
// that hash is left as it is. Before anything is stored, every ELF file in
// the image is checked for the shared libraries it needs, so a package
// forgotten in the recipe is a build error and not a container that cannot
// start at boot.
package pkgbuild
